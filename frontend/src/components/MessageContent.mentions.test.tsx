import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { useLocation } from 'wouter';
import { AuthManager } from '../api/auth';
import { ApiError } from '../api/http';
import { qk } from '../api/queryKeys';
import type { ChannelsList, User } from '../api/types';
import { createServices, ServicesProvider } from '../app/services';
import { loggedIn, TestRouter } from '../test/render';
import { AppMentions } from './mentions';
import { MessageContent } from './MessageContent';

const alice: User = { id: '11', username: 'alice', displayName: 'Alice', avatarUrl: '', createdAt: '' };

function Where() {
  return <span data-testid="where">{useLocation()[0]}</span>;
}

function setup(content: string) {
  loggedIn('10');
  const services = createServices(new AuthManager({ autoRefresh: false, lock: (_n, fn) => fn() }));
  const user = vi.fn(async (id: string): Promise<User> => {
    if (id === '12') return { ...alice, id: '12', username: 'bob', displayName: '' };
    throw new ApiError(404, 'not_found', 'no such user');
  });
  services.api = { ...services.api, user };
  services.queryClient.setQueryData(qk.user('11'), alice);
  services.queryClient.setQueryData<ChannelsList>(qk.channels('s1'), {
    channels: [
      { id: '21', serverId: 's1', name: 'random', topic: '', type: 'text', createdAt: '', lastMessageId: null, lastMessageAt: null, unreadCount: 0, mentionCount: 0 },
    ],
  });
  render(
    <ServicesProvider services={services}>
      <TestRouter route="/channels/s1/20">
        <AppMentions>
          <MessageContent content={content} />
          <Where />
        </AppMentions>
      </TestRouter>
    </ServicesProvider>,
  );
  return { services, user };
}

const chips = () => screen.getAllByTestId('mention').map((el) => [el.getAttribute('data-kind'), el.textContent]);

describe('MessageContent: mentions', () => {
  it('renders users by their current display name, fetching the ones not cached; unknown users as @unknown-user', async () => {
    const { user } = setup('<@11> <@12> <@13> <@10>');
    await waitFor(() =>
      expect(chips()).toEqual([
        ['user', '@Alice'],
        ['user', '@bob'],
        ['user', '@unknown-user'],
        ['user', '@Me Myself'],
      ]),
    );
    expect(user.mock.calls.map((c) => c[0]).sort()).toEqual(['12', '13']); // cached users and I are not fetched
    expect(screen.getByTestId('message-content').textContent).toBe('@Alice @bob @unknown-user @Me Myself');
  });

  it('a renamed user shows the new name (names are looked up, not stored in the text)', async () => {
    const { services } = setup('hi <@11>');
    expect(screen.getByTestId('mention').textContent).toBe('@Alice');
    services.queryClient.setQueryData(qk.user('11'), { ...alice, displayName: 'Alice Cooper' });
    await waitFor(() => expect(screen.getByTestId('mention').textContent).toBe('@Alice Cooper'));
  });

  it('renders channels as links that navigate, unknown channels as text; @everyone and @here as chips', async () => {
    setup('go to <#21> not <#99>, @everyone @here');
    expect(chips()).toEqual([
      ['channel', '#random'],
      ['channel', '#unknown-channel'],
      ['everyone', '@everyone'],
      ['here', '@here'],
    ]);
    const link = screen.getByRole('link', { name: '#random' });
    expect(link.getAttribute('href')).toBe('/channels/s1/21');
    await userEvent.setup().click(link);
    expect(screen.getByTestId('where').textContent).toBe('/channels/s1/21');
  });

  it('without the app around it (previews, tests), mentions render as unknown, never as raw tokens', () => {
    render(<MessageContent content="<@1> <#2>" />);
    expect(screen.getByTestId('message-content').textContent).toBe('@unknown-user #unknown-channel');
  });
});
