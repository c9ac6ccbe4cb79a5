// A choice's text as tokens arrive: stop strings across token boundaries, held-back text, incomplete characters.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChoiceText } from '../src/serve/choice-text.js';

/** A decoder whose ids stand for fixed pieces; id 9 is half of "é" (U+FFFD until id 10 completes it). */
const pieces: Record<number, string> = { 1: 'Hel', 2: 'lo', 3: ' wo', 4: 'rld', 5: '!', 6: ' E', 7: 'ND', 8: ' more' };
const decoder = {
  decode(ids: readonly number[]): string {
    let text = '';
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === 9) text += ids[i + 1] === 10 ? 'é' : '\uFFFD';
      else if (ids[i] !== 10) text += pieces[ids[i]] ?? '';
    }
    return text;
  },
};

function run(ids: number[], stop: string[]): { pieces: string[]; stopped: boolean; rest: string } {
  const text = new ChoiceText(decoder, [], stop);
  const out: string[] = [];
  for (const id of ids) {
    const pushed = text.push(id);
    out.push(pushed.text);
    if (pushed.stopped) return { pieces: out, stopped: true, rest: '' };
  }
  return { pieces: out, stopped: false, rest: text.finish() };
}

describe('ChoiceText', () => {
  it('without stop strings releases each token\'s text as it comes', () => {
    assert.deepEqual(run([1, 2, 3, 4], []), { pieces: ['Hel', 'lo', ' wo', 'rld'], stopped: false, rest: '' });
  });

  it('a stop string split across tokens ends the text before it; what could start it is held back until decided', () => {
    assert.deepEqual(run([1, 2, 6, 7, 8], [' END']), { pieces: ['Hel', 'lo', '', ''], stopped: true, rest: '' });
    // " E" might begin " END"; " more" shows it did not, and the held text comes out with it.
    assert.deepEqual(run([1, 6, 8], [' END']), { pieces: ['Hel', '', ' E more'], stopped: false, rest: '' });
  });

  it('a stop string inside one token cuts that token\'s text; the earliest of several stop strings wins', () => {
    // "l" and then "lo" might begin "lo w", so each waits until " wo" completes it at offset 3.
    assert.deepEqual(run([1, 2, 3], ['lo w', 'wo']), { pieces: ['He', 'l', ''], stopped: true, rest: '' });
  });

  it('holds an incomplete character back until its last byte arrives, and flushes held text at the end', () => {
    assert.deepEqual(run([1, 9, 10, 5], []), { pieces: ['Hel', '', 'é', '!'], stopped: false, rest: '' });
    assert.deepEqual(run([1, 6], [' END']), { pieces: ['Hel', ''], stopped: false, rest: ' E' });
  });
});
