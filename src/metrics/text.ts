/**
 * Python string semantics that the reference implementations rely on: `str.split()`, `str.rstrip()`,
 * `str.strip()` (Python's whitespace set differs from JavaScript's `\s`), and `format(x, '.Nf')` rounding.
 */

/** Python's `str.isspace()` for one UTF-16 code unit (every Python whitespace character lies in the BMP). */
export function isPythonSpace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d) || (code >= 0x1c && code <= 0x1f);
  if (code < 0x85) return false;
  return (
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

/** Python's `str.split()` with no separator: split on runs of whitespace, drop empty pieces. */
export function splitWhitespace(text: string): string[] {
  const pieces: string[] = [];
  let start = -1;
  for (let index = 0; index < text.length; index++) {
    if (isPythonSpace(text.charCodeAt(index))) {
      if (start >= 0) {
        pieces.push(text.slice(start, index));
        start = -1;
      }
    } else if (start < 0) {
      start = index;
    }
  }
  if (start >= 0) pieces.push(text.slice(start));
  return pieces;
}

/** Python's `str.rstrip()`. */
export function rstrip(text: string): string {
  let end = text.length;
  while (end > 0 && isPythonSpace(text.charCodeAt(end - 1))) end--;
  return end === text.length ? text : text.slice(0, end);
}

/** Python's `str.strip()`. */
export function strip(text: string): string {
  let start = 0;
  while (start < text.length && isPythonSpace(text.charCodeAt(start))) start++;
  return rstrip(text.slice(start));
}

/** Python's `str.lower()`; JavaScript's full Unicode lowercasing gives the same strings. */
export function lower(text: string): string {
  return text.toLowerCase();
}

/**
 * Python's `format(value, '.{digits}f')`: rounds the exact binary value half-to-even, where `toFixed` rounds
 * exact ties away from zero (6.25 → '6.2' in Python, '6.3' from `toFixed`).
 */
export function formatFixed(value: number, digits: number): string {
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : value < 0 ? '-inf' : 'nan';
  const rounded = value.toFixed(digits);
  if (Math.abs(value) >= 1e21) return rounded;
  // toFixed(100) spells out the binary value exactly for every magnitude a score can take.
  const exact = Math.abs(value).toFixed(100);
  const point = exact.indexOf('.');
  const tail = exact.slice(point + 1 + digits);
  if (tail[0] !== '5' || !/^50*$/.test(tail)) return rounded;
  // An exact tie: keep the truncated digits when their last digit is even.
  const truncated = exact.slice(0, digits === 0 ? point : point + 1 + digits);
  const lastDigit = Number(truncated[truncated.length - 1]);
  if (lastDigit % 2 === 1) return rounded;
  return (value < 0 ? '-' : '') + truncated;
}
