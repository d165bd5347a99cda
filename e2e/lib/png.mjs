// Shrinks a screenshot for the README: quantized to a 256-colour palette (UI screenshots have few colours, so
// this is hard to tell apart from the original) and recompressed.
import { createRequire } from 'node:module';

const UPNG = createRequire(import.meta.url)('upng-js');

/** @param {Buffer} png @returns {Buffer} */
export function optimizePng(png) {
  const img = UPNG.decode(png);
  const rgba = UPNG.toRGBA8(img)[0];
  const out = Buffer.from(UPNG.encode([rgba], img.width, img.height, 256));
  return out.length < png.length ? out : png;
}
