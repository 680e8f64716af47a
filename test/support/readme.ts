/** The README's curl examples (the block between `<!-- api-examples` and `<!-- /api-examples -->`), parsed. */
import { readFileSync } from 'node:fs';

export interface CurlExample {
  /** The line as written. */
  command: string;
  /** curl's arguments after variable expansion. */
  args: string[];
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** The status the README promises on the next line (`# → 202`). */
  expected: number;
}

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const block =
  /<!-- api-examples[^>]*-->\s*```sh\n([\s\S]*?)```\s*<!-- \/api-examples -->/.exec(readme)?.[1] ?? '';

/** A tiny shell-words parser: single and double quotes and $VARS, enough for these lines. */
function words(line: string, vars: Record<string, string>): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) {
    const expand = (s: string) => s.replace(/\$(\w+)/g, (_, name: string) => vars[name] ?? '');
    out.push(m[1] ?? expand(m[2] ?? m[3]!));
  }
  return out;
}

export function readmeExamples(vars: Record<string, string>): CurlExample[] {
  const lines = block.split('\n');
  const examples: CurlExample[] = [];
  lines.forEach((line, i) => {
    if (!line.startsWith('curl ')) return;
    const expected = Number(/^# → (\d{3})/.exec(lines[i + 1] ?? '')?.[1]);
    const args = words(line, vars).slice(1);
    const example: CurlExample = { command: line, args, method: 'GET', url: '', headers: {}, expected };
    for (let j = 0; j < args.length; j++) {
      const a = args[j]!;
      if (a === '-X') example.method = args[++j]!;
      else if (a === '-H') {
        const [name, ...value] = args[++j]!.split(':');
        example.headers[name!.trim().toLowerCase()] = value.join(':').trim();
      } else if (a === '-d') {
        example.body = args[++j]!;
        if (example.method === 'GET') example.method = 'POST';
      } else if (a !== '-s') example.url = a;
    }
    examples.push(example);
  });
  return examples;
}
