/**
 * A stand-in for the gateway: stays up, reports ready through a file, drains on
 * SIGTERM, and exits if its supervisor dies (so a kill -9 of agentd leaves no orphan).
 */
import { writeFileSync } from 'node:fs';

const readyFile = process.env['PLACEHOLDER_READY_FILE'];
const parent = process.ppid;
console.log(`placeholder child ${process.pid} up`);
if (readyFile) writeFileSync(readyFile, `${process.pid}\n`);

const timer = setInterval(() => {
  if (process.ppid !== parent) {
    console.log('supervisor gone; exiting');
    process.exit(0);
  }
}, 500);

process.on('SIGTERM', () => {
  console.log('placeholder child draining');
  clearInterval(timer);
  setTimeout(() => process.exit(0), 50);
});
