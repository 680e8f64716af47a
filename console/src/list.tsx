import { useState } from 'preact/hooks';
import type { ApiProblem, Client, PlatformList } from '../../src/client/api.js';
import { usePoll } from './poll.js';
import { asProblem, ProblemView } from './problem.js';

export const money = (n: number | undefined) => (n === undefined ? '' : `$${n.toFixed(2)}`);
const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '');

/** Every platform the caller sees, re-read every few seconds, and a form that creates one. */
export function ListPage({ api, report }: { api: Client; report: (p: ApiProblem) => void }) {
  const [list, setList] = useState<PlatformList | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  usePoll(
    async () => {
      try {
        setList(await api.list());
        setProblem(null);
      } catch (e) {
        const p = asProblem(e);
        setProblem(p);
        report(p);
      }
    },
    3000,
    [api],
  );
  return (
    <main>
      <h1>Platforms</h1>
      <CreateForm api={api} report={report} />
      <ProblemView problem={problem} />
      {list === null ? (
        <p>Loading…</p>
      ) : list.platforms.length === 0 ? (
        <p class="empty">No platforms you can see.</p>
      ) : (
        <table class="platforms">
          <thead>
            <tr>
              <th>Platform</th>
              <th>Phase</th>
              <th>Location</th>
              <th>Models</th>
              <th>Cost/h running · stopped</th>
              <th>Next planned</th>
              <th>Warnings</th>
            </tr>
          </thead>
          <tbody>
            {list.platforms.map((p) => (
              <tr data-platform={p.id}>
                <td>
                  <a href={`#/platforms/${encodeURIComponent(p.id)}`}>{p.id}</a>
                </td>
                {/* Phases are shown as the API names them, new ones included. */}
                <td class="phase" data-phase={p.phase}>
                  {p.phase}
                </td>
                <td>{p.location}</td>
                <td>{p.models.join(', ')}</td>
                <td class="cost">
                  {money(p.costPerHour.running)} · {money(p.costPerHour.stopped)}
                </td>
                <td class="planned">
                  {p.planned.map((x) => (
                    <div title={x.reason}>
                      {x.action} at {when(x.at)}
                    </div>
                  ))}
                </td>
                <td class="warnings">
                  {p.warnings.map((w) => (
                    <div class="warning">{w}</div>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}

/** prefix + models (comma-separated); everything else takes the API's defaults. */
function CreateForm({ api, report }: { api: Client; report: (p: ApiProblem) => void }) {
  const [prefix, setPrefix] = useState('');
  const [models, setModels] = useState('phi3.5');
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      const accepted = await api.create({
        prefix,
        models: models
          .split(',')
          .map((m) => m.trim())
          .filter(Boolean),
      });
      setProblem(null);
      if ('id' in accepted && typeof accepted.id === 'string')
        location.hash = `#/platforms/${encodeURIComponent(accepted.id)}`;
    } catch (err) {
      const p = asProblem(err);
      setProblem(p);
      report(p);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="create" onSubmit={submit}>
      <label>
        Prefix <input name="prefix" value={prefix} onInput={(e) => setPrefix(e.currentTarget.value)} />
      </label>
      <label>
        Models <input name="models" value={models} onInput={(e) => setModels(e.currentTarget.value)} />
      </label>
      <button type="submit" disabled={busy}>
        Create platform
      </button>
      <ProblemView problem={problem} />
    </form>
  );
}
