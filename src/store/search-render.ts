// One recording file rendered to search lines: what was on screen, with times.
import { scanCastFile } from './cast-scan';
import { SearchFeed } from './search-feed';
import type { ScreenLine } from './screen-text';

export async function renderForSearch(
  path: string,
  cap: number,
  stopped: () => boolean,
  onLines: (lines: ScreenLine[]) => void,
): Promise<{ capped: boolean; chars: number }> {
  let feed: SearchFeed | undefined;
  try {
    await scanCastFile(path, {
      noHash: true,
      onHeader: (identity) => {
        feed = new SearchFeed(identity, cap, onLines);
      },
      events: (event) => (feed && !stopped() ? feed.event(event) : false),
      pause: () => (feed?.busy ? feed.idle() : undefined),
    });
    if (feed) await feed.end();
    return { capped: feed?.capped ?? false, chars: feed?.renderedChars ?? 0 };
  } finally {
    feed?.dispose();
  }
}
