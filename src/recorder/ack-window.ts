// The ack window shared by every upload with acks (v2 over the network, in-process): the upload
// fails when acks stop advancing for `windowMs` while bytes wait for them, and — when the transport
// promises idle acks — when no ack frame at all arrives for `windowMs`. One one-shot timer sits at
// the nearest deadline, so a failure is noticed at the deadline itself rather than on a poll tick.
export interface AckWindowOptions {
  windowMs: number;
  /** The transport sends ack frames even when idle (v2 network), so silence alone is a failure. */
  expectIdleFrames: boolean;
  /** Bytes handed over and bytes acknowledged so far. */
  counts: () => { sent: number; acked: number };
  onExpire: (message: string) => void;
}

export class AckWindow {
  private lastFrameAt = Date.now();
  private lastProgressAt = Date.now();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(private readonly options: AckWindowOptions) {
    this.arm();
  }

  /** Any ack frame arrived (progress or not). */
  frame(): void {
    this.lastFrameAt = Date.now();
  }

  /** Acks advanced. */
  progress(): void {
    this.lastFrameAt = this.lastProgressAt = Date.now();
  }

  /** Bytes were just counted as sent; `caughtUp` = nothing was waiting for an ack before them. */
  sending(caughtUp: boolean): void {
    // Waiting starts now, not at the last ack of an idle stretch.
    if (caughtUp) this.lastProgressAt = Date.now();
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The nearest deadline, or undefined when nothing can expire. */
  private deadline(): number | undefined {
    const { sent, acked } = this.options.counts();
    const deadlines: number[] = [];
    if (this.options.expectIdleFrames) deadlines.push(this.lastFrameAt + this.options.windowMs);
    if (sent > acked) deadlines.push(this.lastProgressAt + this.options.windowMs);
    return deadlines.length > 0 ? Math.min(...deadlines) : undefined;
  }

  // Deadlines only move later (frames and progress push them out), so the timer is not re-armed on
  // every frame: when it fires early it re-arms itself at the deadline as it now stands.
  private arm(): void {
    if (this.stopped || this.timer) return;
    const deadline = this.deadline();
    if (deadline === undefined) return;
    // Not unref'd: bytes waiting for an ack are work in progress.
    this.timer = setTimeout(() => this.fire(), Math.max(0, deadline - Date.now()));
  }

  private fire(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const now = Date.now();
    const seconds = (this.options.windowMs / 1000).toFixed(1);
    if (this.options.expectIdleFrames && now - this.lastFrameAt >= this.options.windowMs) {
      this.stop();
      this.options.onExpire(`no ack from the recorder for ${seconds} s`);
      return;
    }
    const { sent, acked } = this.options.counts();
    if (sent > acked && now - this.lastProgressAt >= this.options.windowMs) {
      this.stop();
      this.options.onExpire(`the recorder stopped acknowledging (${sent - acked} bytes unacknowledged for ${seconds} s)`);
      return;
    }
    this.arm();
  }
}
