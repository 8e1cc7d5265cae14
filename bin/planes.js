#!/usr/bin/env node
// In the repository, run the TypeScript sources directly (Node 24 strips types;
// the npm scripts put the pinned Node 24 first on PATH). An installed package
// ships only the compiled dist/ (Node does not strip types under node_modules).
import { existsSync } from 'node:fs';

const source = new URL('../cli/planes.ts', import.meta.url);
await import(existsSync(source) ? source.href : new URL('../dist/cli/planes.js', import.meta.url).href);
