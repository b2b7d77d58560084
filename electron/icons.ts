// Window and tray icons drawn as bitmaps at start-up, so the app ships no image files and the tray
// can show at a glance whether anything is live (red) or not (grey).

import { nativeImage, type NativeImage } from 'electron';

type Rgb = [number, number, number];

const RECORDING: Rgb = [0xe5, 0x48, 0x4d];
const IDLE: Rgb = [0x8d, 0x96, 0xa3];
const PANEL: Rgb = [0x1f, 0x26, 0x33];

/** A filled circle (tray) or a dark rounded panel with a dot (window), antialiased at the edge. */
function draw(size: number, dot: Rgb, panel: boolean): NativeImage {
  // createFromBitmap takes the platform's native 32-bit order, BGRA on every desktop Electron supports.
  const pixels = Buffer.alloc(size * size * 4);
  const put = (x: number, y: number, [r, g, b]: Rgb, alpha: number) => {
    const i = (y * size + x) * 4;
    const a = Math.max(0, Math.min(1, alpha));
    const under = pixels[i + 3] / 255;
    const out = a + under * (1 - a);
    if (out === 0) return;
    pixels[i] = Math.round((b * a + pixels[i] * under * (1 - a)) / out);
    pixels[i + 1] = Math.round((g * a + pixels[i + 1] * under * (1 - a)) / out);
    pixels[i + 2] = Math.round((r * a + pixels[i + 2] * under * (1 - a)) / out);
    pixels[i + 3] = Math.round(out * 255);
  };
  const radius = panel ? size * 0.16 : size * 0.42;
  const cx = panel ? size * 0.72 : size / 2;
  const cy = panel ? size * 0.3 : size / 2;
  const corner = size * 0.18;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (panel) {
        // Rounded rectangle: distance to the inner rectangle shrunk by the corner radius.
        const dx = Math.max(corner - x - 0.5, x + 0.5 - (size - corner), 0);
        const dy = Math.max(corner + size * 0.06 - y - 0.5, y + 0.5 - (size - corner - size * 0.06), 0);
        put(x, y, PANEL, corner + 0.5 - Math.hypot(dx, dy));
      }
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      put(x, y, dot, radius + 0.5 - d);
    }
  }
  return nativeImage.createFromBitmap(pixels, { width: size, height: size });
}

export function trayIcon(live: boolean): NativeImage {
  return draw(16, live ? RECORDING : IDLE, false);
}

export function windowIcon(): NativeImage {
  return draw(64, RECORDING, true);
}
