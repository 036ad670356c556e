#!/usr/bin/env node
// Draws the app icon (build/icon.png, 1024x1024) from an SVG with sharp: a rounded indigo square with
// three overlapping "identity" discs. electron-builder derives the .ico/.icns from this PNG.
// Run: node build/make-icon.mjs
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const size = 1024;
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 1024 1024">
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#3f51b5"/>
      <stop offset="1" stop-color="#7b1fa2"/>
    </linearGradient>
  </defs>
  <rect x="64" y="64" width="896" height="896" rx="200" fill="url(#bg)"/>
  <circle cx="400" cy="430" r="190" fill="#ffffff" fill-opacity="0.85"/>
  <circle cx="624" cy="430" r="190" fill="#ffd54f" fill-opacity="0.80"/>
  <circle cx="512" cy="620" r="190" fill="#4dd0e1" fill-opacity="0.75"/>
</svg>`;

const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'icon.png');
await sharp(Buffer.from(svg)).png({ compressionLevel: 9 }).toFile(out);
console.log(`wrote ${out}`);
