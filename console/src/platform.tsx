import { useState } from 'preact/hooks';
import type { Action, ApiProblem, Client, PlatformStatus } from '../../src/client/api.js';
import { DELETION_PHASES, TRANSITIONS } from '../../src/platform/phases.js';
import { money } from './list.js';
import { usePoll } from './poll.js';
import { asProblem, ProblemView } from './problem.js';
import { Timeline, timelineNow } from './timeline.js';

type ButtonAction = Action | 'delete';

/**
 * Which buttons make sense in a phase, by the API's own transition rules (src/platform/phases.ts); the
 * API still decides, and a refusal (409) is shown like any problem. A phase this page does not know
 * enables only delete, which the API allows from every phase but the deletion ones.
 */
function enabled(status: PlatformStatus, action: ButtonAction): boolean {
  const phase: string = status.phase;
  const among = (phases: readonly string[]) => phases.includes(phase);
  switch (action) {
    case 'stop':
      return among(TRANSITIONS.stop.from);
    case 'start':
      return among(TRANSITIONS.start.from);
    case 'wake':
      return phase === 'Ready' && status.tiers.gpu.state !== 'running';
    case 'retry':
      return phase === 'Failed';
    case 'delete':
      return !among(DELETION_PHASES);
    default:
      return false;
  }
}

const BUTTONS: ButtonAction[] = ['stop', 'start', 'wake', 'retry', 'delete'];

export function PlatformPage({
  api,
  id,
  report,
}: {
  api: Client;
  id: string;
  report: (p: ApiProblem) => void;
}) {
  const [status, setStatus] = useState<PlatformStatus | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [actionProblem, setActionProblem] = useState<ApiProblem | null>(null);
  const [notice, setNotice] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [typed, setTyped] = useState('');
  const load = async () => {
    try {
      setStatus(await api.status(id));
      setProblem(null);
    } catch (e) {
      const p = asProblem(e);
      setProblem(p);
      report(p);
    }
  };
  usePoll(load, 2000, [api, id]);

  const act = async (action: ButtonAction) => {
    try {
      const accepted = action === 'delete' ? await api.delete(id) : await api.act(id, action);
      setActionProblem(null);
      setNotice(`${action}: accepted (${accepted.operation}, phase ${accepted.phase})`);
      setConfirming(false);
      setTyped('');
      await load();
    } catch (e) {
      const p = asProblem(e);
      setActionProblem(p);
      setNotice('');
      report(p);
    }
  };

  return (
    <main>
      <p>
        <a href="#/">← All platforms</a>
      </p>
      <h1>
        Platform <span class="platform-id">{id}</span>
      </h1>
      <ProblemView problem={problem} />
      {status && (
        <>
          <p class="summary">
            Phase{' '}
            <strong class="phase" data-phase={status.phase}>
              {status.phase}
            </strong>
            {status.operation ? <> · operation {status.operation}</> : null} · cost{' '}
            {money(status.costPerHour.running)}/h running, {money(status.costPerHour.gpuIdle)}/h GPU idle,{' '}
            {money(status.costPerHour.stopped)}/h stopped
          </p>
          <div class="actions">
            {BUTTONS.map((a) => (
              <button
                type="button"
                data-action={a}
                disabled={!enabled(status, a)}
                onClick={() => (a === 'delete' ? setConfirming(true) : void act(a))}
              >
                {a}
              </button>
            ))}
          </div>
          {confirming && (
            <form
              class="confirm-delete"
              onSubmit={(e) => {
                e.preventDefault();
                if (typed === id) void act('delete');
              }}
            >
              <label>
                Type the prefix <code>{id}</code> to delete the platform and everything in it{' '}
                <input name="confirm" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
              </label>
              <button type="submit" disabled={typed !== id}>
                Delete {id}
              </button>
              <button type="button" onClick={() => (setConfirming(false), setTyped(''))}>
                Cancel
              </button>
            </form>
          )}
          {notice && <p class="notice">{notice}</p>}
          <ProblemView problem={actionProblem} />
          <Details status={status} />
        </>
      )}
    </main>
  );
}

function Details({ status }: { status: PlatformStatus }) {
  const entries = <T,>(o: Record<string, T> | null | undefined) => Object.entries(o ?? {});
  return (
    <>
      {status.warnings.length > 0 && (
        <section class="warnings">
          <h2>Warnings</h2>
          {status.warnings.map((w) => (
            <p class="warning">{w}</p>
          ))}
        </section>
      )}
      {status.lastError && (
        <section class="last-error">
          <h2>Last error</h2>
          <pre>{JSON.stringify(status.lastError, null, 2)}</pre>
        </section>
      )}
      <section>
        <h2>Steps</h2>
        <Timeline steps={status.steps} now={timelineNow(status)} />
        <table class="steps">
          <tbody>
            {status.steps.map((s) => (
              <tr data-step={s.name} data-state={s.state}>
                <td>{s.name}</td>
                <td>{s.state}</td>
                <td>{s.error ? `${s.error.code}: ${s.error.message}` : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section class="grid">
        <div>
          <h2>Models</h2>
          <ul class="models">
            {entries(status.models).map(([m, state]) => (
              <li data-model={m} data-state={state}>
                {m}: {state}
              </li>
            ))}
          </ul>
        </div>
        <div>
          <h2>Endpoints</h2>
          <ul class="endpoints">
            {entries(status.endpoints).map(([name, url]) => (
              <li>
                {name}:{' '}
                <a href={String(url)} target="_blank" rel="noopener noreferrer">
                  {String(url)}
                </a>
              </li>
            ))}
          </ul>
        </div>
        <div>
          <h2>Power and tiers</h2>
          <ul class="power">
            <li>AKS: {status.power?.aks ?? 'not observed'}</li>
            <li>PostgreSQL: {status.power?.postgres ?? 'not observed'}</li>
            <li>Platform tier: {status.tiers.platform.state}</li>
            <li>GPU tier: {status.tiers.gpu.state}</li>
          </ul>
          {status.planned.length > 0 && (
            <ul class="planned">
              {status.planned.map((p) => (
                <li title={p.reason}>
                  {p.action} at {p.at ? new Date(p.at).toLocaleString() : ''}
                </li>
              ))}
            </ul>
          )}
        </div>
        <div>
          <h2>Credentials (Key Vault secret names)</h2>
          <ul class="credentials">
            {entries(status.credentials.accounts).map(([name, a]) => (
              <li>
                {name}
                {'user' in a && a.user ? ` (${a.user})` : ''}: <code>{a.keyVaultSecret}</code>
              </li>
            ))}
          </ul>
        </div>
      </section>
    </>
  );
}
