/** Every verb of `planes`, in the order `planes --help` lists them within their groups. */
import type { Verb } from '../verb.ts';
import { addAgent, logs, removeAgent, reprovision, restartAgent, updateAgent } from './agent.ts';
import { audit, auditVerify } from './audit.ts';
import { backup, cloneAgent, restore, snapshots, verifyBackup } from './brain.ts';
import { costReport } from './cost.ts';
import { apply, exportPlane } from './declarative.ts';
import { heal, pause, restart, resume, rotateSecrets, runs, status, sync, upgrade } from './fleet.ts';
import { gcpPreflight, ssh } from './gcp.ts';
import { create, list, remove } from './plane.ts';
import { secretsDelete, secretsList, secretsSet } from './secrets.ts';
import { up } from './up.ts';

export const VERBS: readonly Verb[] = [
  create,
  list,
  remove,
  addAgent,
  updateAgent,
  removeAgent,
  restartAgent,
  reprovision,
  logs,
  restart,
  pause,
  resume,
  sync,
  rotateSecrets,
  upgrade,
  runs,
  status,
  heal,
  costReport,
  backup,
  snapshots,
  restore,
  verifyBackup,
  cloneAgent,
  secretsSet,
  secretsList,
  secretsDelete,
  gcpPreflight,
  ssh,
  audit,
  auditVerify,
  apply,
  exportPlane,
  up,
];
