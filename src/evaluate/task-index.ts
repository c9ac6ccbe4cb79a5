/**
 * The tasks an include path offers, indexed as lm-eval's TaskIndex does: every `*.yaml` below each folder (sorted,
 * the first definition of a name wins), a file with `task:` is a task, one with `group:` a group, and each task's
 * `tag:` names make tags. Files with neither (shared bases for `include:`) are skipped.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TunekitError } from '../errors.js';
import { nearestName } from '../nearest.js';
import { loadBigbenchTask, parseBigbenchName } from './bigbench.js';
import { parseGroupConfig, parseTaskConfig, readTaskFile, readTaskYaml, TASK_CONFIG_ERROR, type GroupConfig, type TaskConfig } from './task-config.js';

export interface TaskIndexEntry {
  name: string;
  kind: 'task' | 'group' | 'tag';
  /** Tasks: their file; groups: their file; tags: null. */
  file: string | null;
  /** Tags: the tasks carrying it; groups: their task list. */
  members: string[];
}

function yamlFiles(folder: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '__pycache__' && entry.name !== '.ipynb_checkpoints') walk(full);
      } else if (entry.name.endsWith('.yaml')) found.push(full);
    }
  };
  walk(folder);
  return found.sort();
}

/** A group met while resolving names: its config, direct children and every task below it. */
export interface ResolvedGroup {
  config: GroupConfig;
  children: string[];
  leaves: string[];
}

/** The task definitions tunekit ships (MMLU, SuperGLUE, GLUE, HellaSwag, ARC, GSM8K, DialogSum, SAMSum). */
export const BUNDLED_TASKS_DIR = fileURLToPath(new URL('../../../tasks/', import.meta.url));

export interface TaskIndexOptions {
  /** Index the bundled tasks after the include paths (default true). */
  bundled?: boolean;
}

export class TaskIndex {
  readonly entries = new Map<string, TaskIndexEntry>();

  /**
   * Indexes the task YAML files under each folder of `includePaths`, then the bundled tasks: a name defined in an
   * include path wins over a bundled one, as lm-eval's include paths override its own tasks.
   */
  constructor(includePaths: readonly string[] = [], options: TaskIndexOptions = {}) {
    for (const folder of includePaths) {
      if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new TunekitError(TASK_CONFIG_ERROR, `${folder}: not a folder of task YAML files`);
      for (const file of yamlFiles(folder)) this.#add(file);
    }
    if ((options.bundled ?? true) && existsSync(BUNDLED_TASKS_DIR)) for (const file of yamlFiles(BUNDLED_TASKS_DIR)) this.#add(file);
  }

  #add(file: string): void {
    const raw = readTaskYaml(file);
    if (typeof raw.group === 'string' && raw.task !== undefined) {
      if (this.entries.has(raw.group)) return;
      const list = typeof raw.task === 'string' ? [raw.task] : Array.isArray(raw.task) ? raw.task.filter((item): item is string => typeof item === 'string') : [];
      this.entries.set(raw.group, { name: raw.group, kind: 'group', file, members: list });
      return;
    }
    if (typeof raw.task !== 'string' || this.entries.get(raw.task)?.kind === 'task') return;
    this.entries.set(raw.task, { name: raw.task, kind: 'task', file, members: [] });
    // A task's tags may come from the file it includes, as lm-eval reads them.
    const tag = 'tag' in raw || !('include' in raw) ? raw.tag : readTaskFile(file).tag;
    const tags = typeof tag === 'string' ? [tag] : Array.isArray(tag) ? tag.filter((item): item is string => typeof item === 'string') : [];
    for (const tag of tags) {
      const entry = this.entries.get(tag) ?? { name: tag, kind: 'tag' as const, file: null, members: [] };
      if (entry.kind === 'tag') {
        entry.members.push(raw.task);
        this.entries.set(tag, entry);
      }
    }
  }

  /** Names by kind, sorted. */
  list(): TaskIndexEntry[] {
    return [...this.entries.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The task config a name (a task, a .yaml file path, or a BIG-bench task.json) stands for. */
  loadTask(nameOrFile: string): TaskConfig {
    const entry = this.entries.get(nameOrFile);
    if (entry?.kind === 'task' && entry.file !== null) return parseTaskConfig(readTaskFile(entry.file), entry.file);
    if (nameOrFile.endsWith('.yaml') && existsSync(nameOrFile)) return parseTaskConfig(readTaskFile(nameOrFile), path.resolve(nameOrFile));
    const bigbench = parseBigbenchName(nameOrFile);
    if (bigbench !== null && existsSync(bigbench.file)) return loadBigbenchTask(bigbench.file, bigbench.variant);
    return this.#unknown(nameOrFile);
  }

  #unknown(name: string): never {
    const near = nearestName(name, [...this.entries.keys()]);
    const hint = near !== undefined ? ` (did you mean ${near}?)` : this.entries.size === 0 ? ' (no task folders given: pass --include-path DIR or a .yaml file)' : '';
    throw new TunekitError(TASK_CONFIG_ERROR, `unknown task "${name}"${hint}`);
  }

  /**
   * Tasks for a list of task, tag and group names and .yaml files, in order, each once; groups and tags expand to
   * their members. `groups` receives each group met, children before parents, with its direct children (a tag's
   * tasks count as direct children) and every task below it.
   */
  resolve(names: readonly string[], groups: ResolvedGroup[] = []): TaskConfig[] {
    const tasks = new Map<string, TaskConfig>();
    /** The direct children a name contributes (a task, a group, or a tag's tasks), and the tasks below it. */
    const visit = (name: string, trail: string[]): { children: string[]; leaves: string[] } => {
      if (trail.includes(name)) throw new TunekitError(TASK_CONFIG_ERROR, `group cycle: ${[...trail, name].join(' → ')}`);
      const entry = this.entries.get(name);
      if (entry?.kind === 'tag') {
        const leaves = entry.members.flatMap((member) => visit(member, [...trail, name]).leaves);
        return { children: leaves, leaves };
      }
      if (entry?.kind === 'group' && entry.file !== null) {
        const config: GroupConfig = parseGroupConfig(readTaskFile(entry.file), entry.file);
        const visited = config.tasks.map((member) => visit(member, [...trail, name]));
        const unique = (names: string[]) => [...new Set(names)];
        const group = { config, children: unique(visited.flatMap((item) => item.children)), leaves: unique(visited.flatMap((item) => item.leaves)) };
        if (!groups.some((known) => known.config.group === name)) groups.push(group);
        return { children: [name], leaves: group.leaves };
      }
      const task = this.loadTask(name);
      if (!tasks.has(task.task)) tasks.set(task.task, task);
      return { children: [task.task], leaves: [task.task] };
    };
    for (const name of names) visit(name, []);
    return [...tasks.values()];
  }
}
