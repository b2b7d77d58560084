// `serve --seek-index-mib` reaches the library: a recording above the chosen size gets a seek index
// beside its cast, one below it does not, and the default (8 MiB) would have indexed neither.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { withServe } from '../helpers/serve-fixture';
import { seekPathFor } from '../../src/store/seek-index';

const profile = KUBECTL_PROFILES.find((p) => p.version === '1.33')!;

test('the seek-index size set on serve decides which recordings get an index', async () => {
  await withServe({ seekIndexThresholdBytes: 256 * 1024 }, async (fx) => {
    const kubectl = fx.kubectl(profile);
    const big = await kubectl.run(['exec', 'shell', '--', 'sh', '-c', 'head -c 600000 /dev/zero | tr "\\0" x']);
    assert.equal(big.code, 0, big.stderr);
    const small = await kubectl.run(['exec', 'shell', '--', 'echo', 'small']);
    assert.equal(small.code, 0, small.stderr);
    const [bigRecording, smallRecording] = (await fx.waitForRecordings(2)).sort((a, b) => b.text.length - a.text.length);
    assert.ok(bigRecording.text.length > 256 * 1024 && bigRecording.text.length < 8 * 1024 * 1024);
    await fx.handle.library.settled();
    const id = (path: string) => path.slice(path.lastIndexOf('/') + 1, -'.cast'.length);
    const state = await fx.handle.library.seekIndex(id(bigRecording.path));
    assert.notEqual(state.state, 'none', `a ${bigRecording.text.length}-byte recording is indexed: ${JSON.stringify(state)}`);
    await fx.handle.library.settled();
    assert.ok(existsSync(seekPathFor(bigRecording.path)), 'the index lies beside the cast');
    assert.equal((await fx.handle.library.seekIndex(id(smallRecording.path))).state, 'none');
  });
});
