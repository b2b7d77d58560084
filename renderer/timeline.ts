// The activity timeline above the player: output volume over time as bars, search hits and
// markers as ticks, the playhead, and a click (or arrow keys) to seek. Times are player times.

import { h } from './dom';
import { formatClock } from './format';

export interface TimelineMark {
  time: number;
  label: string;
  kind: 'hit' | 'marker';
}

export interface TimelineOptions {
  duration: number;
  /** Output volume per bucket for `count` buckets over the duration. */
  volume(count: number): Float64Array;
  onSeek(time: number): void;
  /** Player time → the time shown to people (recording time). */
  display(time: number): number;
}

const HEIGHT = 56;
const BAR_WIDTH = 3;

export class ActivityTimeline {
  readonly el: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly tooltip: HTMLElement;
  private marks: TimelineMark[] = [];
  private time = 0;
  private volume: Float64Array = new Float64Array(0);
  private volumeWidth = -1;
  private readonly resizeObserver: ResizeObserver;
  private frame = 0;

  constructor(private readonly options: TimelineOptions) {
    this.canvas = h('canvas', { class: 'timeline-canvas', attrs: { 'aria-hidden': 'true' } });
    this.tooltip = h('div', { class: 'timeline-tooltip', attrs: { 'aria-hidden': 'true' } });
    this.tooltip.hidden = true;
    this.el = h(
      'div',
      {
        class: 'timeline',
        attrs: {
          role: 'slider',
          tabindex: 0,
          'aria-label': 'Activity timeline: output volume over time. Click or use the arrow keys to seek.',
          'aria-valuemin': 0,
          'aria-valuemax': Math.round(options.duration),
          'aria-valuenow': 0,
        },
      },
      this.canvas,
      this.tooltip,
    );
    this.el.addEventListener('click', (event) => this.options.onSeek(this.timeAt(event.clientX)));
    this.el.addEventListener('pointermove', (event) => this.hover(event.clientX));
    this.el.addEventListener('pointerleave', () => {
      this.tooltip.hidden = true;
    });
    this.el.addEventListener('keydown', (event) => this.onKey(event));
    this.resizeObserver = new ResizeObserver(() => this.schedule());
    this.resizeObserver.observe(this.el);
  }

  setMarks(marks: TimelineMark[]): void {
    this.marks = marks;
    this.schedule();
  }

  setTime(time: number): void {
    if (Math.abs(time - this.time) < 1e-3) return;
    this.time = time;
    this.el.setAttribute('aria-valuenow', String(Math.round(time)));
    this.el.setAttribute('aria-valuetext', `${formatClock(this.options.display(time))} of ${formatClock(this.options.display(this.options.duration))}`);
    this.schedule();
  }

  dispose(): void {
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.frame);
  }

  private timeAt(clientX: number): number {
    const rect = this.canvas.getBoundingClientRect();
    const fraction = rect.width > 0 ? Math.min(1, Math.max(0, (clientX - rect.left) / rect.width)) : 0;
    return fraction * this.options.duration;
  }

  private hover(clientX: number): void {
    const rect = this.canvas.getBoundingClientRect();
    const t = this.timeAt(clientX);
    const near = this.marks.find((m) => Math.abs(((m.time - t) / Math.max(this.options.duration, 1e-9)) * rect.width) < 4);
    this.tooltip.textContent = `${formatClock(this.options.display(t))}${near ? ` · ${near.label}` : ''}`;
    this.tooltip.hidden = false;
    this.tooltip.style.left = `${Math.min(Math.max(0, clientX - rect.left), rect.width)}px`;
  }

  private onKey(event: KeyboardEvent): void {
    const d = this.options.duration;
    const step = event.shiftKey ? d / 10 : 5;
    let target: number | null = null;
    if (event.key === 'ArrowRight') target = this.time + step;
    else if (event.key === 'ArrowLeft') target = this.time - step;
    else if (event.key === 'Home') target = 0;
    else if (event.key === 'End') target = d;
    else if (event.key === 'PageDown') target = this.time + d / 10;
    else if (event.key === 'PageUp') target = this.time - d / 10;
    if (target === null) return;
    event.preventDefault();
    this.options.onSeek(Math.min(d, Math.max(0, target)));
  }

  private schedule(): void {
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.draw());
  }

  private draw(): void {
    const width = Math.floor(this.el.clientWidth);
    if (width <= 0) return;
    const ratio = window.devicePixelRatio || 1;
    if (this.canvas.width !== width * ratio || this.canvas.height !== HEIGHT * ratio) {
      this.canvas.width = width * ratio;
      this.canvas.height = HEIGHT * ratio;
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${HEIGHT}px`;
    }
    const bars = Math.max(1, Math.floor(width / BAR_WIDTH));
    if (this.volumeWidth !== bars) {
      this.volume = this.options.volume(bars);
      this.volumeWidth = bars;
    }
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const css = getComputedStyle(this.el);
    const color = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, HEIGHT);

    const d = this.options.duration;
    const playedX = d > 0 ? (this.time / d) * width : 0;
    let max = 0;
    for (const v of this.volume) max = Math.max(max, v);
    const top = 10;
    const usable = HEIGHT - top - 2;
    ctx.fillStyle = color('--timeline-base', '#8884');
    ctx.fillRect(0, HEIGHT - 1, width, 1);
    for (let i = 0; i < this.volume.length; i++) {
      const v = this.volume[i];
      if (v <= 0) continue;
      // Square root keeps a burst of output from flattening every quieter moment.
      const barHeight = Math.max(2, Math.sqrt(v / max) * usable);
      const x = i * BAR_WIDTH;
      ctx.fillStyle = x < playedX ? color('--timeline-played', '#4f7cff') : color('--timeline-bar', '#8899aa');
      ctx.fillRect(x, HEIGHT - 1 - barHeight, BAR_WIDTH - 1, barHeight);
    }
    for (const mark of this.marks) {
      const x = d > 0 ? Math.round((mark.time / d) * (width - 1)) + 0.5 : 0.5;
      ctx.fillStyle = mark.kind === 'hit' ? color('--timeline-hit', '#f5a524') : color('--timeline-marker', '#b07cff');
      ctx.fillRect(x - 0.5, top - 2, 1, HEIGHT - top + 1);
      ctx.beginPath();
      ctx.moveTo(x - 4, 0);
      ctx.lineTo(x + 4, 0);
      ctx.lineTo(x, 7);
      ctx.closePath();
      ctx.fill();
    }
    ctx.fillStyle = color('--timeline-playhead', '#e5484d');
    ctx.fillRect(Math.min(width - 2, Math.max(0, playedX - 1)), 0, 2, HEIGHT);
  }
}
