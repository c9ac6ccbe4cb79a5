/**
 * Which files of a dataset repo (on the hub, or a local folder laid out as one) hold a split, by the conventions
 * Hugging Face `datasets` applies to repos without a loading script (its `data_files` defaults), tried in order,
 * the first that finds any split deciding:
 *   1. `data/{split}-00000-of-00001.parquet` and the like (what `push_to_hub` writes): `data/{split}-NNNNN-of-NNNNN.*`;
 *   2. a folder named after the split: `train/…`, `data/train/…`, `train-v2/…`, `{config}/train/…`;
 *   3. a file named after the split: `train.csv`, `data/train-0001.jsonl`, `dialogsum.train.jsonl`;
 *   4. otherwise every data file is the `train` split.
 * A split's name also matches HF's aliases: train/training; validation/valid/val/dev; test/testing/eval/evaluation.
 * The name must stand alone, bounded by the start, `/`, or one of `-._ ` and digits ("trainer.csv" is not train).
 * When the repo's main revision has no file for the split, the Parquet the hub converts every dataset to is read
 * from revision `refs/convert/parquet`: `{config}/{split}/NNNN.parquet` (or the older `{config}/*-{split}.parquet`).
 * README dataset cards with `configs:` YAML are not read (a repo relying on them alone falls to rule 4).
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { TunekitError } from '../../errors.js';
import { hubDownload, hubRepoInfo, snapshotDownload, type HubOptions } from '../../io/hub.js';

export const HUB_DATASET_ERROR = 'E_DATA_HUB';
export const CONVERTED_PARQUET_REVISION = 'refs/convert/parquet';

const DATA_EXTENSION = /\.(jsonl|json|csv|tsv|parquet)$/i;
const SEPARATORS = '\\-._ 0-9';
const SPLIT_ALIASES: Record<string, string[]> = {
  train: ['train', 'training'],
  validation: ['validation', 'valid', 'val', 'dev'],
  test: ['test', 'testing', 'eval', 'evaluation'],
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function aliasesOf(split: string): string[] {
  return SPLIT_ALIASES[split] ?? [split];
}

/** Files a split can be read from: a supported extension, no hidden or `__` folder on the way. */
export function dataFiles(files: readonly string[]): string[] {
  return files.filter((file) => DATA_EXTENSION.test(file) && !file.split('/').some((segment) => segment.startsWith('.') || segment.startsWith('__')));
}

type Rule = (file: string, split: string) => boolean;

const SHARD = /^data\/([^/]+?)-\d{5}-of-\d{5}[^/]*$/;

const byFolder: Rule = (file, split) => {
  const folders = file.split('/').slice(0, -1);
  return aliasesOf(split).some((alias) => {
    const pattern = new RegExp(`^(.*[${SEPARATORS}])?${escapeRegExp(alias)}([${SEPARATORS}].*)?$`, 'i');
    return folders.some((folder) => pattern.test(folder));
  });
};

const byFileName: Rule = (file, split) => {
  const name = file.slice(file.lastIndexOf('/') + 1);
  return aliasesOf(split).some((alias) => new RegExp(`^(.*[${SEPARATORS}])?${escapeRegExp(alias)}[${SEPARATORS}].*$`, 'i').test(name));
};

/**
 * The files of `split` among a repo's `files` (sorted), and the splits the repo's layout gives (for errors).
 * With `config`, only files under `{config}/` count.
 */
export function splitFiles(files: readonly string[], split: string, config?: string): { files: string[]; splits: string[] } {
  let candidates = dataFiles(files);
  if (config !== undefined) candidates = candidates.filter((file) => file.startsWith(`${config}/`));
  candidates.sort();
  const sharded = candidates.filter((file) => SHARD.test(file));
  if (sharded.length > 0) {
    const splits = [...new Set(sharded.map((file) => SHARD.exec(file)![1]))];
    return { files: sharded.filter((file) => SHARD.exec(file)![1] === split), splits };
  }
  const known = [...new Set([...Object.keys(SPLIT_ALIASES), split])];
  for (const rule of [byFolder, byFileName]) {
    const splits = known.filter((name) => candidates.some((file) => rule(file, name)));
    if (splits.length > 0) return { files: candidates.filter((file) => rule(file, split)), splits };
  }
  return { files: split === 'train' ? candidates : [], splits: candidates.length > 0 ? ['train'] : [] };
}

/** The files of `split` on the `refs/convert/parquet` revision, for `config` (default: the only one, or "default"). */
export function convertedSplitFiles(files: readonly string[], split: string, config?: string): { files: string[]; configs: string[] } {
  const parquet = files.filter((file) => /\.parquet$/.test(file) && file.includes('/'));
  const configs = [...new Set(parquet.map((file) => file.slice(0, file.indexOf('/'))))].sort();
  const chosen = config ?? (configs.length === 1 ? configs[0] : configs.includes('default') ? 'default' : undefined);
  if (chosen === undefined) return { files: [], configs };
  const inFolder = parquet.filter((file) => file.startsWith(`${chosen}/${split}/`));
  const older = new RegExp(`^${escapeRegExp(chosen)}/[^/]*-${escapeRegExp(split)}(-\\d{5}-of-\\d{5})?\\.parquet$`);
  return { files: (inFolder.length > 0 ? inFolder : parquet.filter((file) => older.test(file))).sort(), configs };
}

/** Every file under `root`, as repo paths with `/`. */
export async function listFolder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true });
  const files: string[] = [];
  for (const entry of entries) {
    const full = path.join(root, entry);
    if (await stat(full).then((info) => info.isFile(), () => false)) files.push(entry.split(path.sep).join('/'));
  }
  return files.sort();
}

export interface HubDatasetOptions extends Omit<HubOptions, 'repoType'> {
  /** Default "train". */
  split?: string;
  /** The dataset's configuration (subset), as HF's `name`: only files under `{config}/` are read. */
  config?: string;
}

/** The repo's file list at a revision: from the hub, or offline (or unreachable) from the cached snapshot. */
async function listRepo(repoId: string, revision: string, options: HubDatasetOptions): Promise<{ files: string[]; cached?: TunekitError }> {
  const hubOptions = { ...options, repoType: 'dataset' as const, revision };
  try {
    return { files: (await hubRepoInfo(repoId, hubOptions)).files };
  } catch (error) {
    if (!(error instanceof TunekitError) || !['E_HUB_NOT_CACHED', 'E_HUB_NETWORK'].includes(error.code)) throw error;
    let snapshot: string;
    try {
      snapshot = await snapshotDownload(repoId, { ...hubOptions, offline: true, allowPatterns: [] });
    } catch {
      throw error;
    }
    return { files: await listFolder(snapshot), cached: error };
  }
}

/**
 * The local paths of a split's data files for a hub dataset repo, downloaded into the hub cache (or found there
 * offline, or when the hub cannot be reached, as for models), with their repo names and the revision read.
 */
export async function resolveHubDataset(repoId: string, options: HubDatasetOptions = {}): Promise<{ paths: string[]; files: string[]; revision: string }> {
  const split = options.split ?? 'train';
  const revision = options.revision ?? 'main';
  const listing = await listRepo(repoId, revision, options);
  const direct = splitFiles(listing.files, split, options.config);
  let chosen = direct.files;
  let chosenRevision = revision;
  let converted: { files: string[]; configs: string[] } | undefined;
  if (chosen.length === 0 && options.revision === undefined) {
    let convertedListing: { files: string[]; cached?: TunekitError } | undefined;
    try {
      convertedListing = await listRepo(repoId, CONVERTED_PARQUET_REVISION, options);
    } catch (error) {
      if (!(error instanceof TunekitError) || !['E_HUB_REVISION_NOT_FOUND', 'E_HUB_NOT_CACHED'].includes(error.code)) throw error;
    }
    if (convertedListing !== undefined) {
      converted = convertedSplitFiles(convertedListing.files, split, options.config);
      chosen = converted.files;
      chosenRevision = CONVERTED_PARQUET_REVISION;
      if (chosen.length > 0 && listing.cached === undefined) {
        // record the main revision's commit (and an empty snapshot), so that offline the cache says main was looked at
        await snapshotDownload(repoId, { ...options, repoType: 'dataset', revision, allowPatterns: [] });
      }
    }
  }
  if (chosen.length === 0) {
    const where = `split "${split}" of hub dataset "${repoId}" at revision "${revision}"`;
    if (listing.cached !== undefined) {
      const held = listing.files.length === 0 ? 'none of its files' : listing.files.slice(0, 5).join(', ') + (listing.files.length > 5 ? ', …' : '');
      throw new TunekitError(
        'E_HUB_NOT_CACHED',
        `${where} is not in the cache (its cached snapshot holds ${held}) and ${listing.cached.code === 'E_HUB_NETWORK' ? 'the hub cannot be reached' : 'offline mode is on (HF_HUB_OFFLINE)'}. ` +
          'Run once with network access to download it.',
      );
    }
    const found = direct.splits.length > 0
      ? `its files give the split${direct.splits.length === 1 ? '' : 's'} ${direct.splits.join(', ')}`
      : 'the repo has no data files (.jsonl, .json, .csv, .tsv, .parquet)';
    const convertedNote = converted === undefined ? '' : converted.configs.length > 1 && options.config === undefined
      ? `; its ${CONVERTED_PARQUET_REVISION} revision has several configs (${converted.configs.join(', ')}): pass config`
      : `; nor has its ${CONVERTED_PARQUET_REVISION} revision`;
    throw new TunekitError(HUB_DATASET_ERROR, `${where} has no files: ${found}${convertedNote}`);
  }
  const paths: string[] = [];
  for (const file of chosen) paths.push(await hubDownload(repoId, file, { ...options, repoType: 'dataset', revision: chosenRevision }));
  return { paths, files: chosen, revision: chosenRevision };
}
