// Headless Chromium (Debian's `chromium`) from the command line: a screenshot of a local page, decoded.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { decodePng, type DecodedPng } from './png.js';

/** The first Chromium found: $TUNEKIT_CHROMIUM, then the usual names on PATH. */
export function findChromium(): string | undefined {
  const candidates = [process.env.TUNEKIT_CHROMIUM, ...['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'].flatMap((name) =>
    (process.env.PATH ?? '').split(path.delimiter).map((folder) => path.join(folder, name)),
  )];
  return candidates.find((candidate): candidate is string => candidate !== undefined && candidate !== '' && existsSync(candidate));
}

let shots = 0;

/** A screenshot of `htmlFile` at `width`×`height` CSS pixels, by a fresh headless Chromium with nothing to reach. */
export function screenshot(chromium: string, htmlFile: string, width: number, height: number, scratch: string): DecodedPng {
  const output = path.join(scratch, `shot-${process.pid}-${++shots}.png`);
  const profile = path.join(scratch, `profile-${process.pid}-${shots}`);
  mkdirSync(profile);
  const result = spawnSync(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--hide-scrollbars',
      '--force-device-scale-factor=1',
      `--user-data-dir=${profile}`,
      `--window-size=${width},${height}`,
      `--screenshot=${output}`,
      pathToFileURL(htmlFile).href,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.ok(existsSync(output), `chromium wrote no screenshot (status ${result.status}): ${result.stderr.slice(-2000)}`);
  return decodePng(readFileSync(output));
}
