import { type FSWatcher, watch } from 'chokidar';
import type { Stats } from 'node:fs';
import { relative, sep } from 'node:path';
import { brainPathProblem } from '../../../common/src/brain/brain-paths.ts';
import type { Logger } from '../../../common/src/logger.ts';
import type { SkipTracker } from './skip-tracker.ts';
import { errnoSkip, excludedReason } from './workspace-scan.ts';

/**
 * Watches a workspace for the brain: a changed path goes to `onPath`
 * (workspace-relative), and anything only a full rescan can sort out to
 * `onRescan`: a name that is not UTF-8 (it reaches the watcher mangled, as
 * U+FFFD, and no add event follows) and watch errors. A watch error about one
 * path counts that path as left out (logged once); any other error is logged
 * once. Paths the brain never holds are not watched, so a deep tree yields no
 * ENAMETOOLONG. `ready` resolves once the initial scan is done and every
 * change from then on is seen (it never settles for a watcher closed first).
 */
export function watchWorkspace(o: { workspace: string; skips: SkipTracker; log: Logger; onPath: (rel: string) => void; onRescan: () => void }): { watcher: FSWatcher; ready: Promise<void> } {
  const relOf = (path: string): string | null => {
    const rel = relative(o.workspace, path).split(sep).join('/');
    return rel === '' || rel.startsWith('..') ? null : rel;
  };
  const watcher = watch(o.workspace, {
    ignoreInitial: true,
    followSymlinks: false,
    persistent: true,
    ignored: (path: string, stats?: Stats) => {
      const rel = relOf(path);
      return rel !== null && (excludedReason(rel, stats?.isDirectory() ?? false) !== null || brainPathProblem(rel) !== null);
    },
  });
  const onPath = (path: string): void => {
    const rel = relOf(path);
    if (rel !== null) o.onPath(rel);
  };
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  for (const ev of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) watcher.on(ev, onPath);
  watcher.on('raw', (_event, name) => {
    if (name?.includes('\uFFFD')) o.onRescan();
  });
  const seen = new Set<string>();
  watcher.on('error', (e) => {
    const err = e as NodeJS.ErrnoException;
    const rel = err.path ? relOf(err.path) : null;
    if (rel !== null) o.skips.add({ path: rel, ...errnoSkip(err, 'cannot watch') });
    else if (!seen.has(err.message)) {
      seen.add(err.message);
      o.log.warn('workspace watch error; a full rescan follows', { reason: err.message });
    }
    o.onRescan();
  });
  return { watcher, ready };
}
