import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { api, onSignedOut } from './api.ts';
import { fleetFeed } from './feed.ts';
import { SignIn } from './pages/sign-in.tsx';
import { FleetPage } from './pages/fleet.tsx';
import { AgentPage } from './pages/agent.tsx';
import { ActionsPage } from './pages/actions.tsx';
import { RunPage } from './pages/run.tsx';
import { AuditPage } from './pages/audit.tsx';
import { CostPage } from './pages/cost.tsx';
import { HubPage } from './pages/hub.tsx';
import { UserContext } from './session.ts';
import type { User } from './types.ts';
import './styles.css';

const NAV = [
  ['/console/', 'Fleet'],
  ['/console/actions', 'Actions'],
  ['/console/audit', 'Audit'],
  ['/console/cost', 'Cost'],
  ['/console/hub', 'Hub health'],
] as const;

function Shell({ user, onSignOut }: { user: User; onSignOut: () => void }) {
  const { path } = useLocation();
  const current = (href: string): boolean => (href === '/console/' ? path === '/console/' || path.startsWith('/console/agents') : path.startsWith(href));
  // Each page's title names it, for the browser history and screen readers.
  useEffect(() => {
    const page = NAV.find(([href]) => current(href))?.[1] ?? 'Console';
    document.title = `${page} · Agents Plane`;
  });
  return (
    <UserContext.Provider value={user}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Agents Plane</span>
        <nav aria-label="Main">
          {NAV.map(([href, label]) => (
            <a href={href} aria-current={current(href) ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who">
          {user.name} <span class="role">({user.role})</span>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <Router>
          <Route path="/console/" component={FleetPage} />
          <Route path="/console/agents/:plane/:name" component={AgentPage} />
          <Route path="/console/actions" component={ActionsPage} />
          <Route path="/console/runs/:plane/:id" component={RunPage} />
          <Route path="/console/audit" component={AuditPage} />
          <Route path="/console/cost" component={CostPage} />
          <Route path="/console/hub" component={HubPage} />
          <Route default component={NotFound} />
        </Router>
      </main>
    </UserContext.Provider>
  );
}

function NotFound() {
  return (
    <div class="card">
      <h1>Not found</h1>
      <p>
        There is no such page. <a href="/console/">Back to the fleet</a>
      </p>
    </div>
  );
}

function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  useEffect(() => {
    // The fleet page's feed opens alongside the session check rather than after it: one round trip less to the first table.
    const early = location.pathname === '/console/' ? fleetFeed.subscribe(() => undefined) : undefined;
    api<{ user: User }>('GET', '/v1/console/session').then(
      (r) => {
        performance.mark('session-known');
        setUser(r.user);
      },
      () => {
        fleetFeed.close();
        setUser(null);
      },
    );
    const off = onSignedOut(() => {
      fleetFeed.close();
      setUser(null);
    });
    return () => {
      early?.();
      off();
    };
  }, []);
  const signOut = (): void => {
    fleetFeed.close();
    void api('DELETE', '/v1/console/session').finally(() => setUser(null));
  };
  if (user === undefined) return <p class="loading">Loading…</p>;
  if (user === null) return <SignIn onSignedIn={setUser} />;
  return (
    <LocationProvider scope="/console/">
      <Shell user={user} onSignOut={signOut} />
    </LocationProvider>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
