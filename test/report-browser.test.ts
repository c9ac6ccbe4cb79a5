/**
 * The HTML report in a real browser: headless Chromium (Debian's `chromium`) screenshots the page, and the PNG
 * must show each plot drawn in its systems' colours where the page puts it; the same page with its SVGs removed
 * must lack those colours. Skips when no Chromium is installed (.ci/run installs it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { report } from '../src/index.js';
import { findChromium, screenshot as takeScreenshot } from './helpers/chromium.js';
import { countColour, decodePng, type DecodedPng } from './helpers/png.js';
import { sampleReport } from './helpers/reports.js';

const directory = mkdtempSync(path.join(os.tmpdir(), 'tunekit-report-browser-'));
after(() => rmSync(directory, { recursive: true, force: true }));

const chromium = findChromium();
const screenshot = (htmlFile: string, width: number, height: number) => takeScreenshot(chromium as string, htmlFile, width, height, directory);

const SYSTEM_COLOURS = { zero_shot: '#4e79a7', lora: '#f28e2b', full: '#e15759' };

/** Dark pixels (axes, ticks, text) in a region: proof that more than flat colour was drawn. */
function darkPixels(image: DecodedPng, region: { left: number; top: number; right: number; bottom: number }): number {
  let found = 0;
  for (let y = region.top; y < Math.min(region.bottom, image.height); y++) {
    for (let x = region.left; x < Math.min(region.right, image.width); x++) {
      const at = (y * image.width + x) * 4;
      if (image.rgba[at] < 110 && image.rgba[at + 1] < 110 && image.rgba[at + 2] < 110) found++;
    }
  }
  return found;
}

describe('PNG helper', () => {
  /** Encodes rows with the given filter per row (the encoder's side of each filter), as a PNG file. */
  function encode(width: number, pixels: number[][], channels: 3 | 4, filters: number[]): Buffer {
    const stride = width * channels;
    const raw: number[] = [];
    pixels.forEach((row, y) => {
      const previous = y === 0 ? new Array(stride).fill(0) : pixels[y - 1];
      raw.push(filters[y]);
      for (let x = 0; x < stride; x++) {
        const left = x >= channels ? row[x - channels] : 0;
        const up = previous[x];
        const upLeft = x >= channels ? previous[x - channels] : 0;
        const estimate = left + up - upLeft;
        const [a, b, c] = [Math.abs(estimate - left), Math.abs(estimate - up), Math.abs(estimate - upLeft)];
        const paeth = a <= b && a <= c ? left : b <= c ? up : upLeft;
        const predictor = [0, left, up, (left + up) >> 1, paeth][filters[y]];
        raw.push((row[x] - predictor + 256) & 0xff);
      }
    });
    const chunk = (type: string, body: Buffer) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(body.length);
      return Buffer.concat([length, Buffer.from(type, 'latin1'), body, Buffer.alloc(4)]);
    };
    const header = Buffer.alloc(13);
    header.writeUInt32BE(width, 0);
    header.writeUInt32BE(pixels.length, 4);
    header.set([8, channels === 3 ? 2 : 6, 0, 0, 0], 8);
    return Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', header),
      chunk('IDAT', deflateSync(Buffer.from(raw))),
      chunk('IEND', Buffer.alloc(0)),
    ]);
  }

  it('decodes RGB and RGBA rows under all five filters', () => {
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
    for (const channels of [3, 4] as const) {
      const width = 7;
      const pixels = Array.from({ length: 10 }, () => Array.from({ length: width * channels }, next));
      const image = decodePng(encode(width, pixels, channels, [0, 1, 2, 3, 4, 4, 3, 2, 1, 0]));
      assert.equal(image.width, width);
      assert.equal(image.height, 10);
      for (let y = 0; y < 10; y++) {
        for (let x = 0; x < width; x++) {
          const expected = [...pixels[y].slice(x * channels, x * channels + 3), channels === 4 ? pixels[y][x * channels + 3] : 255];
          assert.deepEqual([...image.rgba.subarray((y * width + x) * 4, (y * width + x) * 4 + 4)], expected, `pixel ${x},${y} (${channels} channels)`);
        }
      }
    }
    assert.throws(() => decodePng(Buffer.from('not a png')), /not a PNG/);
  });
});

describe('HTML report in headless Chromium', { skip: chromium === undefined ? 'no chromium binary found (apt-get install chromium, or set TUNEKIT_CHROMIUM)' : false }, () => {
  const sample = sampleReport();

  it('draws each plot where the page puts it, in its systems\' colours', () => {
    // Each chart of the report alone in a fixed 720×420 slot, so each slot of the screenshot holds one chart.
    const charts = [...report.renderHtml(sample).matchAll(/<svg\b[^>]*data-chart="([^"]+)"[\s\S]*?<\/svg>/g)].map((match) => ({ kind: match[1], svg: match[0] }));
    assert.deepEqual(charts.map((chart) => chart.kind), ['line', 'bars', 'bars', 'whiskers', 'whiskers']);
    const slot = { width: 720, height: 420 };
    const page = path.join(directory, 'charts.html');
    writeFileSync(
      page,
      `<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0;background:#fff">${charts
        .map((chart, index) => `<div style="position:absolute;left:0;top:${index * slot.height}px;width:${slot.width}px;height:${slot.height}px;overflow:hidden">${chart.svg}</div>`)
        .join('')}</body></html>`,
    );
    const image = screenshot(page, slot.width, slot.height * charts.length);
    const expected: Record<string, (keyof typeof SYSTEM_COLOURS)[]> = {
      line: ['lora', 'full'], // the prompting baseline has no loss curve
      bars: ['zero_shot', 'lora', 'full'],
      whiskers: ['lora', 'full'], // forgetting is measured for tuned systems only
    };
    charts.forEach((chart, index) => {
      const region = { left: 0, top: index * slot.height, right: slot.width, bottom: (index + 1) * slot.height };
      for (const [system, colour] of Object.entries(SYSTEM_COLOURS) as [keyof typeof SYSTEM_COLOURS, string][]) {
        const pixels = countColour(image, colour, region);
        if (expected[chart.kind].includes(system)) assert.ok(pixels >= 60, `chart ${index} (${chart.kind}): ${system}'s colour ${colour} covers only ${pixels} pixels`);
        else assert.ok(pixels < 10, `chart ${index} (${chart.kind}): ${system}'s colour ${colour} should be absent, found ${pixels} pixels`);
      }
      assert.ok(darkPixels(image, region) >= 200, `chart ${index} (${chart.kind}) has no axes or labels`);
    });
    // Bars are filled areas: each of the six bars is at least 20×20 pixels of its colour.
    for (const colour of Object.values(SYSTEM_COLOURS)) {
      for (const index of [1, 2]) assert.ok(countColour(image, colour, { left: 0, top: index * slot.height, right: slot.width, bottom: (index + 1) * slot.height }) >= 400, `bar ${colour} in chart ${index}`);
    }
  });

  it('the whole page shows the plots, and the same page without SVG shows none of their colours', async () => {
    const folder = path.join(directory, 'report');
    const { html } = await report.writeReport(folder, sample);
    const stripped = path.join(directory, 'stripped.html');
    writeFileSync(stripped, readFileSync(html, 'utf8').replace(/<svg\b[\s\S]*?<\/svg>/g, ''));
    const [withPlots, withoutPlots] = [screenshot(html, 1280, 2000), screenshot(stripped, 1280, 2000)];
    for (const [system, colour] of Object.entries(SYSTEM_COLOURS)) {
      const drawn = countColour(withPlots, colour);
      const bare = countColour(withoutPlots, colour);
      assert.ok(drawn >= 1000, `${system}'s colour covers only ${drawn} pixels of the report`);
      assert.ok(bare < 10, `${system}'s colour appears without the plots (${bare} pixels)`);
    }
  });
});
