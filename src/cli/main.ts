#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { TunekitError } from '../index.js';
import type { Verb } from './verb.js';

/** Verbs load lazily so `tunekit score` never pays for loading libtorch. */
const verbs: Record<string, () => Promise<Verb>> = {
  compare: async () => (await import('./compare.js')).compareVerb,
  data: async () => (await import('./data.js')).dataVerb,
  demo: async () => (await import('./demo.js')).demoVerb,
  eval: async () => (await import('./eval.js')).evalVerb,
  'export-gguf': async () => (await import('./export-gguf.js')).exportGgufVerb,
  forgetting: async () => (await import('./forgetting.js')).forgettingVerb,
  generate: async () => (await import('./generate.js')).generateVerb,
  info: async () => (await import('./info.js')).infoVerb,
  inspect: async () => (await import('./inspect.js')).inspectVerb,
  merge: async () => (await import('./merge.js')).mergeVerb,
  report: async () => (await import('./report.js')).reportVerb,
  score: async () => (await import('./score.js')).scoreVerb,
  serve: async () => (await import('./serve.js')).serveVerb,
  sweep: async () => (await import('./sweep.js')).sweepVerb,
  train: async () => (await import('./train.js')).trainVerb,
};

function usage(): string {
  const lines = ['usage: tunekit <verb> [flags]   (tunekit <verb> --help for details)', '', 'verbs:'];
  for (const name of Object.keys(verbs)) lines.push(`  ${name}`);
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    console.log(manifest.version);
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 1 : 0;
  }
  const load = verbs[name];
  if (load === undefined) {
    console.error(`tunekit: unknown verb "${name}"\n\n${usage()}`);
    return 2;
  }
  const verb = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(verb.help);
    return 0;
  }
  return verb.run(rest);
}

/**
 * A reader that stops early (`tunekit score bleu file --per-line | head -1`) closes our stdout: that is the
 * reader's choice, not our failure, so end at once, quietly, with exit status 0 (the output it wanted was written).
 * Node ignores SIGPIPE, so the closed pipe arrives here as an EPIPE error instead of a signal; without this
 * listener it would be an unhandled 'error' event with a stack trace. Other stdout errors get one line and status 1.
 */
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  console.error(`tunekit: cannot write to stdout: ${error.message}`);
  process.exit(1);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof TunekitError) {
      console.error(`tunekit: ${error.message}`);
      process.exitCode = 1;
    } else {
      console.error(error);
      process.exitCode = 70;
    }
  },
);
