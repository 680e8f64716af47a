/**
 * The operator console: a client of the API and nothing else. It keeps no data of its own (it re-reads
 * the API while a page is open), calls it with the caller's function key and bearer token through the
 * typed client (src/client/api.ts), and shows every error the API gives as its problem: title, detail and
 * the fields it names. Routes are in the fragment (#/platforms/<id>), so the server serves one page.
 */
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { createClient, type ApiProblem } from '../../src/client/api.js';
import { ListPage } from './list.js';
import { PlatformPage } from './platform.js';
import { ProblemView } from './problem.js';
import { clearCredentials, loadCredentials, saveCredentials, type Credentials } from './session.js';
import './style.css';

/** A credential input: masked, never offered for autocompletion. */
function SecretField(props: { label: string; name: string; value: string; set: (v: string) => void }) {
  return (
    <label>
      {props.label}{' '}
      <input
        name={props.name}
        type="password"
        autocomplete="off"
        value={props.value}
        onInput={(e) => props.set(e.currentTarget.value)}
      />
    </label>
  );
}

function SignIn({ problem, onSignIn }: { problem: ApiProblem | null; onSignIn: (c: Credentials) => void }) {
  const [key, setKey] = useState('');
  const [token, setToken] = useState('');
  return (
    <main>
      <h1>Sign in</h1>
      <ProblemView problem={problem} />
      <form
        class="sign-in"
        onSubmit={(e) => {
          e.preventDefault();
          onSignIn({ key: key.trim(), token: token.trim() });
        }}
      >
        <SecretField label="Function key" name="key" value={key} set={setKey} />
        <SecretField label="Bearer token" name="token" value={token} set={setToken} />
        <button type="submit">Sign in</button>
        <p class="hint">
          Kept in this tab only (sessionStorage). Against <code>npm run sandbox</code>: the key and token of
          its ready line.
        </p>
      </form>
    </main>
  );
}

function App() {
  const [credentials, setCredentials] = useState(loadCredentials);
  // Set when a call answered 401: the sign-in form shows it and replaces the page until the caller signs in.
  const [unauthorized, setUnauthorized] = useState<ApiProblem | null>(null);
  const [route, setRoute] = useState(location.hash);
  useEffect(() => {
    const onHash = () => setRoute(location.hash);
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const api = useMemo(
    () => createClient({ baseUrl: location.origin, key: credentials.key, token: credentials.token }),
    [credentials],
  );
  const report = (p: ApiProblem) => {
    if (p.status === 401) setUnauthorized(p);
  };

  if (unauthorized)
    return (
      <SignIn
        problem={unauthorized}
        onSignIn={(c) => {
          saveCredentials(c);
          setCredentials(c);
          setUnauthorized(null);
        }}
      />
    );
  const platform = /^#\/platforms\/([^/]+)$/.exec(route);
  return (
    <>
      <header>
        <a href="#/">LLM platforms</a>
        <button
          type="button"
          class="sign-out"
          onClick={() => {
            clearCredentials();
            setCredentials({ key: '', token: '' });
          }}
        >
          Sign out
        </button>
      </header>
      {platform ? (
        <PlatformPage api={api} id={decodeURIComponent(platform[1]!)} report={report} />
      ) : (
        <ListPage api={api} report={report} />
      )}
    </>
  );
}

render(<App />, document.getElementById('app')!);
