import { describe, expect, it } from '@jest/globals';
import { expandVariables } from './variableExpansion.ts';

const vars: Record<string, string> = { PORT_HTTP: '41234', NAME: 'echo', EMPTY: '' };
const lookup = (name: string): string | undefined => vars[name];

describe('expandVariables', () => {
  it.each([
    ['replaces a defined variable', '--port=$(PORT_HTTP)', '--port=41234'],
    ['replaces several variables in one string', '$(NAME):$(PORT_HTTP)', 'echo:41234'],
    ['keeps an undefined variable as written', '--x=$(MISSING)', '--x=$(MISSING)'],
    ['replaces a variable defined as empty', 'a$(EMPTY)b', 'ab'],
    ['turns $$ into a single $', 'cost $$(NAME)', 'cost $(NAME)'],
    ['keeps a lone $ before other text', 'a $b $', 'a $b $'],
    ['keeps an unterminated reference literal', 'x $(NAME', 'x $(NAME'],
    ['still unescapes after an unterminated reference', '$(a$$', '$(a$'],
    ['leaves text without references alone', 'plain', 'plain'],
  ])('%s', (_name, input, expected) => {
    expect(expandVariables(input, lookup)).toBe(expected);
  });
});
