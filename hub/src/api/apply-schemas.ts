import { Type } from '@sinclair/typebox';
import { Name, PlaneSpec } from '../model.ts';
import { PlanesFileSchema } from '../planes-file.ts';
import { PlaneBody } from './schemas.ts';

/** Schemas of the planes.yaml routes: PATCH a plane, plan, apply, export. */

export const UpdatePlaneBody = Type.Object(
  {
    identityProvider: Type.Optional(Type.String({ maxLength: 64 })),
    networkProvider: Type.Optional(Type.String({ maxLength: 64 })),
    // Spelled out: the plane's own schema carries defaults, which the validator would fill into a PATCH.
    defaults: Type.Optional(
      Type.Object(
        {
          machineType: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          diskSizeGb: Type.Optional(Type.Integer({ minimum: 10, maximum: 65536 })),
          image: Type.Optional(Type.String({ maxLength: 512 })),
        },
        { additionalProperties: false, minProperties: 1 },
      ),
    ),
    models: Type.Optional(PlaneSpec.properties.models),
    identity: Type.Optional(PlaneSpec.properties.identity),
    egressPolicy: Type.Optional(PlaneSpec.properties.egressPolicy),
    policies: Type.Optional(PlaneSpec.properties.policies),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const UpdatePlaneResponse = Type.Object({
  plane: PlaneBody,
  reconfigured: Type.Array(Type.Object({ agent: Name, commandId: Type.String(), state: Type.String() })),
});

export const PlanBody = Type.Object(
  {
    document: PlanesFileSchema,
    prune: Type.Optional(Type.Boolean({ default: false, description: 'plan to remove agents that are not in the document' })),
  },
  { additionalProperties: false },
);

export const ApplyBody = Type.Object(
  {
    document: PlanesFileSchema,
    prune: Type.Optional(Type.Boolean({ default: false, description: 'remove agents that are not in the document: their machines and brains are destroyed' })),
    fingerprint: Type.Optional(Type.String({ pattern: '^[0-9a-f]{32}$', description: "the plan's fingerprint: refuse to apply if the plane changed since" })),
    waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 300, default: 60, description: 'how long to wait for agents to apply changed settings' })),
  },
  { additionalProperties: false },
);

const FieldChange = Type.Object({ field: Type.String(), path: Type.String(), from: Type.Unknown(), to: Type.Unknown() });

export const Plan = Type.Object({
  plane: Type.String(),
  planeAction: Type.Union([Type.Literal('create'), Type.Literal('change'), Type.Literal('none')]),
  planeChanges: Type.Array(FieldChange),
  agents: Type.Array(
    Type.Object({
      name: Type.String(),
      action: Type.Union([Type.Literal('create'), Type.Literal('change'), Type.Literal('remove')]),
      path: Type.Union([Type.String(), Type.Null()]),
      changes: Type.Array(FieldChange),
      policies: Type.Array(Type.Integer()),
    }),
  ),
  unchanged: Type.Array(Type.String()),
  unmanaged: Type.Array(Type.String()),
  errors: Type.Array(Type.Object({ path: Type.String(), message: Type.String() })),
  summary: Type.Object({ create: Type.Integer(), change: Type.Integer(), remove: Type.Integer() }),
  empty: Type.Boolean(),
  fingerprint: Type.String(),
});

export const ApplyReportBody = Type.Object({
  plan: Plan,
  results: Type.Array(
    Type.Object({
      agent: Type.String(),
      action: Type.String(),
      outcome: Type.Union([Type.Literal('ok'), Type.Literal('pending'), Type.Literal('failed')]),
      message: Type.Union([Type.String(), Type.Null()]),
      commandId: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  summary: Type.Object({ ok: Type.Integer(), pending: Type.Integer(), failed: Type.Integer() }),
});

export const ExportBody = Type.Object({ document: PlanesFileSchema });
