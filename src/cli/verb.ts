/** One CLI verb: thin glue that parses flags, calls the library and prints. */
export interface Verb {
  name: string;
  summary: string;
  /** Full `--help` text: usage line, then one line per flag. */
  help: string;
  run(argv: string[]): Promise<number>;
}
