/** The placeholder engine on its own: any templates, any values, nothing of the platform. */
import { describe, expect, it } from 'vitest';
import { renderTemplates } from '../../src/platform/templates.js';

describe('renderTemplates (the placeholder contract)', () => {
  const template = (text: string) => [{ file: '00-test.yaml', text }];
  const cm = (data: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n${data}`;

  it('keeps the value type for a bare placeholder and makes a quoted one a string', () => {
    const [o] = renderTemplates(
      template(
        `apiVersion: v1\nkind: X\nmetadata:\n  name: x\nspec:\n  n: \${a.n}\n  s: '\${a.n}'\n  list: \${a.list}\n  map: \${a.map}\n  text: pre-\${a.n}-post`,
      ),
      { a: { n: 3, list: ['p', 'q'], map: { k: 'v' } } },
    );
    expect(o!.spec).toEqual({ n: 3, s: '3', list: ['p', 'q'], map: { k: 'v' }, text: 'pre-3-post' });
  });

  it('never turns a value into YAML structure', () => {
    const [o] = renderTemplates(template(cm('  k: ${v}')), { v: 'a\nb: c\n---\nkind: Secret' });
    expect(o!.data).toEqual({ k: 'a\nb: c\n---\nkind: Secret' });
  });

  it('refuses unknown, malformed and key placeholders and values no template uses', () => {
    expect(() => renderTemplates(template(cm('  k: ${missing}')), {})).toThrow(
      /unknown placeholder \$\{missing\}/,
    );
    expect(() => renderTemplates(template(cm('  k: ${constructor}')), {})).toThrow(/unknown placeholder/);
    expect(() => renderTemplates(template(cm('  k: ${1}')), {})).toThrow(/malformed placeholder/);
    expect(() => renderTemplates(template(cm('  ${k}: v')), { k: 'x' })).toThrow(/placeholder in a key/);
    expect(() => renderTemplates(template(cm('  k: v')), { extra: 1 })).toThrow(
      /values no template uses: extra/,
    );
    expect(() => renderTemplates(template(cm('  k: x-${m}')), { m: { a: 1 } })).toThrow(/not a single value/);
  });

  it('writes a literal ${ for $${', () => {
    const [o] = renderTemplates(template(cm('  k: echo $${HOME}')), {});
    expect(o!.data).toEqual({ k: 'echo ${HOME}' });
  });
});
