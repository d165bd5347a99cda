import { describe, expect, it } from 'vitest';
import { parseMessage, type MdInline } from './markdown';

function inline(content: string): MdInline[] {
  const [b] = parseMessage(content);
  if (b?.type !== 'paragraph') throw new Error('expected one paragraph');
  return b.children;
}
const t = (text: string): MdInline => ({ type: 'text', text });
const m = (kind: 'user' | 'channel' | 'everyone' | 'here', id = ''): MdInline => ({ type: 'mention', kind, id });

describe('parseMessage: mentions', () => {
  it('turns <@id>, <#id>, @everyone and @here into mention nodes', () => {
    expect(inline('hi <@123>, see <#456>')).toEqual([t('hi '), m('user', '123'), t(', see '), m('channel', '456')]);
    expect(inline('@everyone and @here.')).toEqual([m('everyone'), t(' and '), m('here'), t('.')]);
    expect(inline('**<@1>**')).toEqual([{ type: 'strong', children: [m('user', '1')] }]);
  });

  it('leaves code, e-mail addresses, longer names and malformed tokens alone', () => {
    expect(inline('`<@123>` `@everyone`')).toEqual([
      { type: 'code', text: '<@123>' },
      t(' '),
      { type: 'code', text: '@everyone' },
    ]);
    expect(inline('me@here.com a@everyone @everyones @here.now @heretic')).toEqual([
      t('me@here.com a@everyone @everyones @here.now @heretic'),
    ]);
    expect(inline('<@abc> <@> <#12a> <@123')).toEqual([t('<@abc> <@> <#12a> <@123')]);
    expect(inline('\\<@123>')).toEqual([t('<@123>')]);
  });

  it('a mention inside a spoiler or a quote stays a mention', () => {
    expect(inline('||<@7>||')).toEqual([{ type: 'spoiler', children: [m('user', '7')] }]);
    const [q] = parseMessage('> <#9>');
    expect(q).toMatchObject({ type: 'quote', children: [{ type: 'paragraph', children: [m('channel', '9')] }] });
  });
});
