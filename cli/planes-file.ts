/**
 * planes.yaml as the hub reads it (schema, FILE:LINE:COL errors), loaded only
 * by the verbs that read a file: apply, create --config and up. The reader is
 * shared with the hub; importing it lazily keeps ajv and the schemas out of
 * every other command's start.
 */
import type { ParsedPlanesFile, PlanesFile } from '../hub/src/planes-file.ts';

export type { ParsedPlanesFile, PlanesFile };

export async function readPlanesFile(fileName: string): Promise<ParsedPlanesFile> {
  return (await import('../hub/src/planes-file.ts')).readPlanesFile(fileName);
}

export async function loadPlanesFile(fileName: string): Promise<PlanesFile> {
  return (await import('../hub/src/planes-file.ts')).loadPlanesFile(fileName);
}
