/**
 * A reader for the subset of Bicep that infra/ uses, so tests can check the templates as data: there is no
 * Bicep compiler here (it is a native binary the npm wrappers download at run time), and no npm package parses
 * Bicep. It reads, per file:
 *
 * - `targetScope = '…'`, and decorators (`@description(…)`, `@minLength(…)`: kept as raw text);
 * - `param name type [= value]`, `var name = value`, `output name type = value`;
 * - `resource symbol 'Type@api-version' [existing] = [if (condition)] { … }` and
 *   `module symbol 'path' = [if (condition)] { … }` (the condition kept as an expression);
 * - values: objects (one `key: value` per line), arrays (one item per line, or comma-separated), strings
 *   (single-quoted with `\'` `\\` `\n` `\t` `\$` escapes, or `'''…'''`), integers, true, false, null.
 *
 * Anything else that stands for a value (a reference such as `storage.name`, a function call, a ternary, an
 * interpolated string) is kept as a {@link BicepExpression} with its source text, unevaluated. Loops,
 * `import`, `type` and `func` declarations are not in the subset: the reader throws on them, so a template
 * that outgrows it fails the tests instead of being half read.
 */

export class BicepExpression {
  constructor(readonly text: string) {}
}

export type BicepValue =
  string | number | boolean | null | BicepExpression | BicepValue[] | { [key: string]: BicepValue };

export interface BicepResource {
  symbol: string;
  type: string;
  apiVersion: string;
  existing: boolean;
  /** `if (…)`: deployed only when this holds. */
  condition?: BicepExpression;
  body: Record<string, BicepValue>;
}

export interface BicepModule {
  symbol: string;
  path: string;
  condition?: BicepExpression;
  body: Record<string, BicepValue>;
}

export interface BicepFile {
  targetScope: string;
  params: Map<string, { type: string; defaultValue?: BicepValue; decorators: string[] }>;
  vars: Map<string, BicepValue>;
  resources: BicepResource[];
  modules: BicepModule[];
  outputs: Map<string, { type: string; value: BicepValue }>;
}

type TokenKind = 'identifier' | 'string' | 'number' | 'newline' | 'punctuation' | 'end';
interface Token {
  kind: TokenKind;
  text: string;
  /** The decoded value of a string token without interpolation. */
  value?: string;
  interpolated?: boolean;
  start: number;
  end: number;
}

const ESCAPES: Record<string, string> = { "'": "'", '\\': '\\', n: '\n', r: '\r', t: '\t', $: '$' };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, start: number, extra: Partial<Token> = {}) =>
    tokens.push({ kind, text: source.slice(start, i), start, end: i, ...extra });
  while (i < source.length) {
    const c = source[i]!;
    const start = i;
    if (c === '\n') {
      i++;
      push('newline', start);
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (source.startsWith('//', i)) {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (source.startsWith('/*', i)) {
      const close = source.indexOf('*/', i + 2);
      if (close < 0) throw new Error(`unterminated comment at ${i}`);
      i = close + 2;
    } else if (source.startsWith("'''", i)) {
      const close = source.indexOf("'''", i + 3);
      if (close < 0) throw new Error(`unterminated ''' string at ${i}`);
      i = close + 3;
      push('string', start, { value: source.slice(start + 3, close).replace(/^\r?\n/, '') });
    } else if (c === "'") {
      i++;
      let value = '';
      let interpolated = false;
      for (;;) {
        const d = source[i];
        if (d === undefined || d === '\n') throw new Error(`unterminated string at ${start}`);
        if (d === "'") break;
        if (d === '\\') {
          const escaped = ESCAPES[source[i + 1] ?? ''];
          if (escaped === undefined) throw new Error(`unknown escape at ${i}`);
          value += escaped;
          i += 2;
        } else if (d === '$' && source[i + 1] === '{') {
          interpolated = true;
          let depth = 0;
          do {
            const e = source[i];
            if (e === undefined) throw new Error(`unterminated interpolation at ${start}`);
            if (e === '{') depth++;
            if (e === '}') depth--;
            i++;
          } while (depth > 0 || source[i - 1] !== '}');
        } else {
          value += d;
          i++;
        }
      }
      i++;
      push('string', start, interpolated ? { interpolated } : { value });
    } else if (/[0-9]/.test(c)) {
      while (/[0-9]/.test(source[i] ?? '')) i++;
      push('number', start);
    } else if (/[A-Za-z_]/.test(c)) {
      while (/[A-Za-z0-9_]/.test(source[i] ?? '')) i++;
      push('identifier', start);
    } else {
      i++;
      push('punctuation', start);
    }
  }
  tokens.push({ kind: 'end', text: '', start: i, end: i });
  return tokens;
}

class Parser {
  private at = 0;
  constructor(
    private readonly source: string,
    private readonly tokens: Token[],
  ) {}

  private peek(): Token {
    return this.tokens[this.at]!;
  }
  private next(): Token {
    return this.tokens[this.at++]!;
  }
  private expect(text: string): Token {
    const token = this.next();
    if (token.text !== text) throw this.error(`expected ${text}`, token);
    return token;
  }
  private identifier(): string {
    const token = this.next();
    if (token.kind !== 'identifier') throw this.error('expected a name', token);
    return token.text;
  }
  private stringLiteral(): string {
    const token = this.next();
    if (token.kind !== 'string' || token.value === undefined)
      throw this.error('expected a plain string', token);
    return token.value;
  }
  private skipNewlines(): void {
    while (this.peek().kind === 'newline') this.next();
  }
  private error(message: string, token: Token): Error {
    const line = this.source.slice(0, token.start).split('\n').length;
    return new Error(`Bicep subset: ${message} at line ${line}, found '${token.text}'`);
  }

  file(): BicepFile {
    const file: BicepFile = {
      targetScope: 'resourceGroup',
      params: new Map(),
      vars: new Map(),
      resources: [],
      modules: [],
      outputs: new Map(),
    };
    let decorators: string[] = [];
    for (;;) {
      this.skipNewlines();
      const token = this.peek();
      if (token.kind === 'end') return file;
      if (token.text === '@') {
        decorators.push(this.opaque().text);
        continue;
      }
      const keyword = this.identifier();
      if (keyword === 'targetScope') {
        this.expect('=');
        file.targetScope = this.stringLiteral();
      } else if (keyword === 'param') {
        const name = this.identifier();
        const type = this.identifier();
        const param: { type: string; defaultValue?: BicepValue; decorators: string[] } = { type, decorators };
        if (this.peek().text === '=') {
          this.next();
          param.defaultValue = this.value();
        }
        file.params.set(name, param);
      } else if (keyword === 'var') {
        const name = this.identifier();
        this.expect('=');
        file.vars.set(name, this.value());
      } else if (keyword === 'resource') {
        const symbol = this.identifier();
        const [type, apiVersion] = this.stringLiteral().split('@');
        if (!type || !apiVersion) throw this.error("expected 'Type@api-version'", this.peek());
        const existing = this.peek().text === 'existing';
        if (existing) this.next();
        this.expect('=');
        const condition = this.condition();
        file.resources.push({ symbol, type, apiVersion, existing, ...condition, body: this.body() });
      } else if (keyword === 'module') {
        const symbol = this.identifier();
        const path = this.stringLiteral();
        this.expect('=');
        const condition = this.condition();
        file.modules.push({ symbol, path, ...condition, body: this.body() });
      } else if (keyword === 'output') {
        const name = this.identifier();
        const type = this.identifier();
        this.expect('=');
        file.outputs.set(name, { type, value: this.value() });
      } else {
        throw this.error('declaration outside the subset', token);
      }
      decorators = [];
      const end = this.peek();
      if (end.kind !== 'newline' && end.kind !== 'end') throw this.error('expected the end of the line', end);
    }
  }

  /** `if (expression)` before a resource or module body, kept as the expression's text. */
  private condition(): { condition?: BicepExpression } {
    if (this.peek().text !== 'if') return {};
    this.next();
    const open = this.expect('(');
    let depth = 1;
    let close = open;
    while (depth > 0) {
      close = this.next();
      if (close.kind === 'end') throw this.error('unterminated condition', close);
      if (close.text === '(') depth++;
      if (close.text === ')') depth--;
    }
    return { condition: new BicepExpression(this.source.slice(open.end, close.start).trim()) };
  }

  /** A resource or module body: an object literal (a loop is outside the subset). */
  private body(): Record<string, BicepValue> {
    if (this.peek().text !== '{') throw this.error('expected { (loops are not read)', this.peek());
    const value = this.value();
    return value as Record<string, BicepValue>;
  }

  value(): BicepValue {
    const begin = this.at;
    const literal = this.literal();
    const after = this.peek();
    if (
      literal !== undefined &&
      (after.kind === 'newline' || after.kind === 'end' || [',', '}', ']', ')'].includes(after.text))
    )
      return literal;
    this.at = begin;
    return this.opaque();
  }

  private literal(): BicepValue | undefined {
    const token = this.peek();
    if (token.text === '{') return this.object();
    if (token.text === '[') return this.array();
    this.next();
    if (token.kind === 'string') return token.value ?? new BicepExpression(token.text);
    if (token.kind === 'number') return Number(token.text);
    if (token.text === 'true') return true;
    if (token.text === 'false') return false;
    if (token.text === 'null') return null;
    return undefined;
  }

  private object(): Record<string, BicepValue> {
    this.expect('{');
    const object: Record<string, BicepValue> = {};
    for (;;) {
      this.skipNewlines();
      if (this.peek().text === '}') break;
      const key = this.peek().kind === 'string' ? this.stringLiteral() : this.identifier();
      this.expect(':');
      object[key] = this.value();
      if (this.peek().text === ',') this.next();
    }
    this.expect('}');
    return object;
  }

  private array(): BicepValue[] {
    this.expect('[');
    const array: BicepValue[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.peek().text === ']') break;
      if (this.peek().text === 'for') throw this.error('loops are outside the subset', this.peek());
      array.push(this.value());
      if (this.peek().text === ',') this.next();
    }
    this.expect(']');
    return array;
  }

  /** Everything up to the end of the value (a newline, `,`, or a closing bracket outside any bracket). */
  private opaque(): BicepExpression {
    const first = this.peek();
    let depth = 0;
    let last = first;
    for (;;) {
      const token = this.peek();
      if (token.kind === 'end') break;
      if (depth === 0 && (token.kind === 'newline' || token.text === ',')) break;
      if ('([{'.includes(token.text) && token.kind === 'punctuation') depth++;
      if (')]}'.includes(token.text) && token.kind === 'punctuation') {
        if (depth === 0) break;
        depth--;
      }
      last = this.next();
    }
    if (last === first && first.kind === 'newline') throw this.error('expected a value', first);
    return new BicepExpression(this.source.slice(first.start, last.end));
  }
}

export function parseBicep(source: string): BicepFile {
  return new Parser(source, tokenize(source)).file();
}
