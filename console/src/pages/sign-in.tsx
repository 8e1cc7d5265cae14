import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { ErrorBox, message } from '../components.tsx';
import type { User } from '../types.ts';

interface Method {
  kind: string;
  label: string;
  startUrl?: string;
}

/**
 * Sign-in offers the methods the hub lists. Today that is the token form; an
 * OIDC method would add a button here that goes to its start URL (see docs/console.md).
 */
export function SignIn({ onSignedIn }: { onSignedIn: (u: User) => void }) {
  const [methods, setMethods] = useState<Method[]>([{ kind: 'token', label: 'API token' }]);
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = 'Sign in · Agents Plane';
    api<{ methods: Method[] }>('GET', '/v1/console/sign-in-methods').then(
      (r) => setMethods(r.methods),
      () => undefined,
    );
  }, []);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await api<{ user: User }>('POST', '/v1/console/session', { token });
      onSignedIn(r.user);
    } catch (err) {
      setError(message(err));
    } finally {
      // The token leaves the page's memory either way; the session cookie is HttpOnly.
      setToken('');
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <h1>Agents Plane console</h1>
      {methods
        .filter((m) => m.startUrl)
        .map((m) => (
          <p class="card">
            <a class="button" href={m.startUrl}>
              {m.label}
            </a>
          </p>
        ))}
      {methods.some((m) => m.kind === 'token') ? (
        <form onSubmit={(e) => void submit(e)} class="card">
          <label for="token">API token</label>
          <input
            id="token"
            name="token"
            type="password"
            autocomplete="off"
            spellcheck={false}
            required
            value={token}
            onInput={(e) => setToken((e.target as HTMLInputElement).value)}
            aria-describedby="token-help"
          />
          <p id="token-help" class="help">
            An admin or viewer token, as made by <code>hub token create</code>. It is checked once and never stored in the browser.
          </p>
          <button type="submit" disabled={busy || token === ''}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
          <ErrorBox error={error} />
        </form>
      ) : null}
    </main>
  );
}
