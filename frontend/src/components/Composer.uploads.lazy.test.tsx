// The composer's upload code is a lazy chunk (components/lazy.tsx). Files picked, dropped or pasted before it arrived
// are held and uploaded when it does, in order, once each. This file never preloads the chunk (each Vitest file has
// its own module graph). Transforming the chunk on first import is slow on a loaded machine: generous timeouts.
import { createRef } from 'react';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { Attachment } from '../api/types';
import { Composer, type ComposerHandle, type Uploader } from './Composer';

const arrival = { timeout: 20_000 };
const file = (name: string) => new File(['hello'], name, { type: 'text/plain' });

describe('Composer uploads before the upload chunk arrives', () => {
  it('a dropped file, a picked one and a pasted one are each uploaded once when it arrives, then sent', async () => {
    const names: string[] = [];
    const uploader: Uploader = vi.fn(async (f: File) => {
      names.push(f.name);
      return { id: 'a-' + f.name, name: f.name, contentType: 'text/plain', size: 5, url: `/files/1/${f.name}` } as Attachment;
    });
    const onSend = vi.fn();
    const handle = createRef<ComposerHandle>();
    render(
      <Composer
        channelId="c1"
        placeholder="Message #general"
        onSend={onSend}
        onTyping={() => undefined}
        uploader={uploader}
        limits={{ maxSize: 1000, maxPerMessage: 5, types: [] }}
        handle={handle}
      />,
    );
    handle.current!.addFiles([file('dropped.txt')]); // what the channel view does with a drop
    fireEvent.change(screen.getByTestId('composer-file-input'), { target: { files: [file('picked.txt')] } });
    const box = screen.getByTestId('composer-input');
    fireEvent.paste(box, { clipboardData: { files: [file('pasted.png')], getData: () => '' } });
    expect(uploader).not.toHaveBeenCalled(); // the chunk is not here yet: held, not lost
    await waitFor(() => expect(screen.getAllByTestId('upload-item').map((i) => i.dataset.status)).toEqual(['done', 'done', 'done']), arrival);
    expect(names).toEqual(['dropped.txt', 'picked.txt', 'pasted.png']);
    fireEvent.submit(box.closest('form')!);
    expect(onSend).toHaveBeenCalledTimes(1);
    expect(onSend.mock.calls[0][1].map((a: Attachment) => a.name)).toEqual(['dropped.txt', 'picked.txt', 'pasted.png']);
  }, 60_000);
});
