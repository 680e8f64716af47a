import { ApiProblem } from '../../src/client/api.js';

/** Any failure as the API's problem: a thrown non-problem (a bug of the page) gets a title of its own. */
export function asProblem(e: unknown): ApiProblem {
  if (e instanceof ApiProblem) return e;
  return new ApiProblem(0, { title: 'Unexpected error in the console', detail: String(e) });
}

/** An API problem as the API gave it: its title, its detail and each field it names. */
export function ProblemView({ problem }: { problem: ApiProblem | null }) {
  if (!problem) return null;
  return (
    <div class="problem" role="alert">
      <strong class="problem-title">{problem.title}</strong>
      {problem.status ? <span class="problem-status"> ({problem.status})</span> : null}
      {problem.detail ? <p class="problem-detail">{problem.detail}</p> : null}
      {problem.errors.length ? (
        <ul class="problem-fields">
          {problem.errors.map((e) => (
            <li>
              <code>{e.pointer !== undefined ? e.pointer || '(body)' : (e.parameter ?? '')}</code>:{' '}
              {e.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
