/**
 * Versioned schema migrations, applied in order inside one transaction each and
 * recorded in PRAGMA user_version. Never edit a released migration: add one.
 */
export const migrations: readonly string[] = [
  // 1: fleet state
  `
  CREATE TABLE planes (
    name TEXT PRIMARY KEY,
    spec_json TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    plane TEXT NOT NULL REFERENCES planes(name),
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    spec_json TEXT NOT NULL,
    desired_state TEXT NOT NULL DEFAULT 'running' CHECK (desired_state IN ('running', 'paused')),
    credential_hash TEXT,
    enrolled_at INTEGER,
    boot_id TEXT,
    agentd_version TEXT,
    runtime_versions_json TEXT,
    capabilities_json TEXT,
    last_connected_at INTEGER,
    last_disconnected_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (plane, name)
  );
  CREATE TABLE enrollment_tokens (
    token_hash TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
  );
  CREATE TABLE commands (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    args_json TEXT NOT NULL,
    actor TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    deadline_at INTEGER NOT NULL,
    delivered_at INTEGER,
    completed_at INTEGER,
    output_json TEXT,
    error_code TEXT,
    error_message TEXT
  );
  CREATE INDEX commands_open ON commands (agent_id, state);
  CREATE TABLE heartbeats (
    agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    payload_json TEXT NOT NULL
  );
  CREATE TABLE instances (
    agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    instance_json TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    plane TEXT,
    agent TEXT,
    outcome TEXT NOT NULL,
    detail_json TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX audit_by_agent ON audit_events (plane, agent, at);
  `,
  // 2: per-agent secrets (sealed under the hub's master key) and brain writer leases
  `
  CREATE TABLE secrets (
    plane TEXT NOT NULL,
    agent TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (plane, agent, name)
  );
  CREATE TABLE writer_leases (
    agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    fence INTEGER NOT NULL,
    boot_id TEXT NOT NULL,
    granted_at INTEGER NOT NULL
  );
  CREATE TABLE superseded_boots (
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    boot_id TEXT NOT NULL,
    fence INTEGER NOT NULL,
    superseded_at INTEGER NOT NULL,
    PRIMARY KEY (agent_id, boot_id)
  );
  `,
  // 3: the audit log becomes a hash chain and append-only
  `
  ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
  ALTER TABLE audit_events ADD COLUMN hash TEXT;
  -- Rows from before the chain are hashed once (hash NULL -> value); a hashed row never changes.
  CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events WHEN OLD.hash IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  `,
  // 4: secret kinds (generated ones rotate on a schedule) and when each agent's generated secrets last rotated
  `
  ALTER TABLE secrets ADD COLUMN kind TEXT NOT NULL DEFAULT 'external' CHECK (kind IN ('generated', 'external'));
  -- Names and versions (never values) of each agent's secrets, so Hello and delivery need no
  -- list call against the provider (Secret Manager allows 600 reads per minute per project).
  CREATE TABLE secret_index (
    plane TEXT NOT NULL,
    agent TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (plane, agent, name)
  );
  INSERT INTO secret_index (plane, agent, name, version) SELECT plane, agent, name, version FROM secrets;
  CREATE TABLE secret_rotations (
    agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    rotated_at INTEGER NOT NULL,
    revision TEXT NOT NULL DEFAULT ''
  );
  `,
  // 5: cost ledger, budget alerts and self-healing state
  `
  -- Cost per agent, UTC day, kind (model | infra) and item (a model or a machine type).
  -- Keyed by names, not agent ids, so a removed agent's spend stays in past reports.
  CREATE TABLE cost_ledger (
    plane TEXT NOT NULL,
    agent TEXT NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('model', 'infra')),
    item TEXT NOT NULL,
    owner TEXT NOT NULL,
    grp TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (plane, agent, day, kind, item)
  );
  CREATE INDEX cost_ledger_by_day ON cost_ledger (plane, day);
  -- The last cumulative usage seen per agent and model, to turn reports into deltas.
  CREATE TABLE usage_cursors (
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    observed_at INTEGER NOT NULL,
    PRIMARY KEY (agent_id, model)
  );
  -- Until when machine time has been charged, per agent.
  CREATE TABLE infra_cursors (
    agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    charged_until INTEGER NOT NULL
  );
  -- One row per budget threshold crossed, so each fires once per agent, month and cap
  -- (a changed cap is a new budget: its thresholds fire afresh).
  CREATE TABLE budget_alerts (
    plane TEXT NOT NULL,
    agent TEXT NOT NULL,
    period TEXT NOT NULL,
    threshold INTEGER NOT NULL,
    at INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    cap_usd REAL NOT NULL,
    PRIMARY KEY (plane, agent, period, threshold, cap_usd)
  );
  CREATE TABLE agent_healing (
    agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    last_error TEXT,
    breaker_open_at INTEGER,
    breaker_reason TEXT
  );
  `,
  // 6: fan-out runs (one command kind over many agents, rate-controlled) and rolling upgrades; each run's
  // targets and results are one JSON document, rewritten as the run progresses
  `
  CREATE TABLE command_runs (
    id TEXT PRIMARY KEY,
    plane TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    run_json TEXT NOT NULL
  );
  CREATE INDEX command_runs_plane ON command_runs (plane, created_at);
  `,
  // 7: a hub crash must not lose which commands a run sent. Each command names its run (written before it
  // is sent) and, for a run's command, when the run gives up on it if it never reached the agent; a run
  // whose targets wait for their agents' reports is found by `unresolved`.
  `
  ALTER TABLE commands ADD COLUMN run_id TEXT;
  ALTER TABLE commands ADD COLUMN give_up_at INTEGER;
  CREATE INDEX commands_run ON commands (run_id) WHERE run_id IS NOT NULL;
  ALTER TABLE command_runs ADD COLUMN unresolved INTEGER NOT NULL DEFAULT 0;
  `,
  // 8: failed enrolment claims (right token, another agent's name) are counted per token for the rate limit
  `
  ALTER TABLE enrollment_tokens ADD COLUMN failed_claims INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE enrollment_tokens ADD COLUMN failed_window_start INTEGER;
  `,
];
