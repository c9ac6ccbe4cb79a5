// `tunekit train --nproc N`: starts N workers on this machine with the environment torchrun gives its workers, and
// watches them: a worker that dies stops the others and the job, naming its rank; SIGINT reaches every worker once.
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';

export interface LaunchOptions {
  nproc: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
  /** Seconds rendezvous and each collective may wait (TUNEKIT_DIST_TIMEOUT). */
  timeoutSeconds: number;
}

interface Exit {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

function describeExit(exit: Exit): string {
  return exit.signal !== null ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
}

/** Runs `tunekit train WORKER_ARGV` as this node's ranks; resolves to the job's exit status. */
export function launchWorkers(workerArgv: readonly string[], options: LaunchOptions): Promise<number> {
  const worldSize = options.nproc * options.nnodes;
  const threads = process.env.TUNEKIT_THREADS ?? String(Math.max(1, Math.floor(availableParallelism() / options.nproc)));
  const workers: ChildProcess[] = [];
  const exits: (Exit | undefined)[] = [];
  let failure: Exit | undefined;
  let interrupts = 0;

  const killAll = (): void => {
    for (const [index, worker] of workers.entries()) if (exits[index] === undefined) worker.kill('SIGKILL');
  };
  const onSignal = (): void => {
    interrupts++;
    if (interrupts > 1) killAll();
    else for (const [index, worker] of workers.entries()) if (exits[index] === undefined) worker.kill('SIGINT');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // The workers are in their own process groups (so a terminal's Ctrl-C reaches them once, from here): they must
  // not outlive the launcher.
  const onExit = (): void => killAll();
  process.on('exit', onExit);

  return new Promise((resolve) => {
    for (let localRank = 0; localRank < options.nproc; localRank++) {
      const rank = options.nodeRank * options.nproc + localRank;
      const env = {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(localRank),
        WORLD_SIZE: String(worldSize),
        LOCAL_WORLD_SIZE: String(options.nproc),
        GROUP_RANK: String(options.nodeRank),
        NODE_RANK: String(options.nodeRank),
        MASTER_ADDR: options.masterAddr,
        MASTER_PORT: String(options.masterPort),
        TUNEKIT_DIST_TIMEOUT: String(options.timeoutSeconds),
        TUNEKIT_THREADS: threads,
        TUNEKIT_LAUNCHER_PID: String(process.pid),
      };
      const worker = spawn(process.execPath, [...process.execArgv, process.argv[1], 'train', ...workerArgv], {
        env,
        stdio: ['ignore', rank === 0 ? 'inherit' : 'ignore', 'pipe'],
        detached: true,
      });
      workers.push(worker);
      // Rank 0's stderr (the progress bar) as it is; the other ranks' lines with their rank.
      if (rank === 0) worker.stderr?.pipe(process.stderr);
      else createInterface({ input: worker.stderr! }).on('line', (line) => process.stderr.write(`[rank ${rank}] ${line}\n`));
      worker.on('exit', (code, signal) => {
        const exit = { rank, code, signal };
        exits[localRank] = exit;
        const ok = code === 0 || (code === 130 && interrupts > 0);
        if (!ok && failure === undefined) {
          failure = exit;
          process.stderr.write(`tunekit: rank ${rank} (pid ${worker.pid}) ${describeExit(exit)}; stopping the other ranks\n`);
          killAll();
        }
        if (exits.filter((entry) => entry !== undefined).length < options.nproc) return;
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        process.off('exit', onExit);
        if (failure !== undefined) resolve(1);
        else resolve(interrupts > 0 || exits.some((entry) => entry?.code === 130) ? 130 : 0);
      });
    }
  });
}
