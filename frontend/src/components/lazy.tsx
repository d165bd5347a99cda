// Parts of the chat screen that the first paint does not need (issue #16: the chat screen's JavaScript budget):
// dialogs, the quick switcher, the profile card, the image lightbox, the member list, the search and pins panels,
// the user settings. Each comes as its own chunk when first shown, inside its own Suspense (nothing else on the
// screen waits; a part that takes room on screen shows a placeholder meanwhile), and is prefetched once the browser
// is idle after the first paint. A part whose chunk cannot be downloaded (offline, or a deploy replaced the files while the page
// was open) says so in its place, with a reload button, and the rest of the screen keeps working.
import { Component, lazy, Suspense, type ComponentProps, type ComponentType, type ReactNode } from 'react';

// Encrypted DMs (with ts-mls, the largest part) load only when a DM is opened: not prefetched for everyone.
const e2ee = () => import('./E2EE');

const loaders = {
  // One chunk per dialog: opening one downloads only that one.
  inviteModal: () => import('./modals/InviteModal'),
  newDMModal: () => import('./modals/NewDMModal'),
  createChannelModal: () => import('./modals/CreateChannelModal'),
  editChannelModal: () => import('./modals/EditChannelModal'),
  createServerModal: () => import('./modals/CreateServerModal'),
  joinServerModal: () => import('./modals/JoinServerModal'),
  serverSettings: () => import('./ServerSettings'),
  switcher: () => import('./Switcher'),
  profileCard: () => import('./ProfileCardPopover'),
  lightbox: () => import('./Lightbox'),
  memberList: () => import('./MemberList'),
  searchPanel: () => import('./SearchResults'),
  pinsPanel: () => import('./PinsList'),
  userSettings: () => import('./UserSettings'),
  // What the first screen shows only after an interaction, or a moment later without harm: the DM menus and
  // notices, the notification controller (desktop notices, chime, title), its prompt and the mute buttons. The
  // unread and mention badges are not here: they draw on the first paint.
  dmSafety: () => import('./DMSafety'),
  notifications: () => import('./Notifications'),
  // Who reacted (a chip's tooltip) and who is typing: names drawn only after an interaction or an event.
  userNames: chunk(() => import('./UserNames')),
  // A message's hover toolbar, edit box, open actions menu and the composer's reply bar, and the reaction popover
  // (its full emoji picker is a further chunk, loaded at its first open): those that take the focus do so as they
  // mount, so a key pressed before they arrived is not lost.
  messageActions: chunk(() => import('./MessageActions')),
  reactionPicker: chunk(() => import('./ReactionPicker')),
  // The composer's upload code and tray (files picked, dropped or pasted before it arrives are held by the composer).
  composerUploads: chunk(() => import('./ComposerUploads')),
  // A server's open menu (the column keeps its button; Esc and a click outside close it even before it arrives).
  serverMenu: chunk(() => import('./ServerMenu')),
  // A message's dialogs: the outside-link warning and the delete confirmation.
  messageDialogs: chunk(() => import('./MessageDialogs')),
};

class PartErrorBoundary extends Component<{ children: ReactNode; quiet?: boolean }, { failed: boolean }> {
  override state = { failed: false };

  static getDerivedStateFromError() {
    return { failed: true };
  }

  override render() {
    if (!this.state.failed) return this.props.children;
    if (this.props.quiet) return null;
    return (
      <div className="part-error" role="alert" data-testid="part-error">
        <span>This part of Parley could not be loaded. A new version may be out.</span>
        <button type="button" className="button primary small" onClick={() => window.location.reload()}>
          Reload
        </button>
      </div>
    );
  }
}

/** What a part that takes room on screen shows while its chunk loads. */
export function PartPlaceholder({ className }: { className: string }) {
  return (
    <div className={`part-loading ${className}`} aria-busy="true" data-testid="part-loading">
      <span className="sr-only">Loading…</span>
    </div>
  );
}

/** A chunk's loader that remembers the module once it is here (see `part`). */
export type Chunk<M> = (() => Promise<M>) & { now: () => M | undefined };

export function chunk<M>(load: () => Promise<M>): Chunk<M> {
  let mod: M | undefined;
  const get = () => (mod ? Promise.resolve(mod) : load().then((m) => (mod = m)));
  return Object.assign(get, { now: () => mod });
}

/**
 * A lazy part: `placeholder` while its chunk loads; a reload prompt in its place if the chunk cannot be downloaded,
 * or nothing when `quiet` (a part drawn once per message, whose actions the keyboard menu also offers: one prompt per
 * message would be a screenful of alerts).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the same bound as React.lazy's own signature
export function part<M extends Record<K, ComponentType<any>>, K extends keyof M>(
  load: (() => Promise<M>) | Chunk<M>,
  name: K,
  placeholder: ReactNode = null,
  quiet = false,
) {
  // A chunk already here (prefetched) resolves synchronously (React.lazy reads a thenable that calls back at once
  // as resolved), so the part draws in the same render as its parent: no empty frame, no suspended subtree.
  const L = lazy(() => {
    const m = 'now' in load ? load.now() : undefined;
    if (m) return { then: (ok: (v: { default: M[K] }) => void) => ok({ default: m[name] }) } as Promise<{ default: M[K] }>;
    return load().then((mod) => ({ default: mod[name] }));
  });
  return function LazyPart(props: ComponentProps<M[K]>) {
    return (
      <PartErrorBoundary quiet={quiet}>
        <Suspense fallback={placeholder}>
          <L {...props} />
        </Suspense>
      </PartErrorBoundary>
    );
  };
}

export const InviteModal = part(loaders.inviteModal, 'InviteModal');
export const NewDMModal = part(loaders.newDMModal, 'NewDMModal');
export const CreateChannelModal = part(loaders.createChannelModal, 'CreateChannelModal');
export const EditChannelModal = part(loaders.editChannelModal, 'EditChannelModal');
export const CreateServerModal = part(loaders.createServerModal, 'CreateServerModal');
export const JoinServerModal = part(loaders.joinServerModal, 'JoinServerModal');
export const ServerSettingsModal = part(loaders.serverSettings, 'ServerSettingsModal');
export const QuickSwitcher = part(loaders.switcher, 'QuickSwitcher');
export const ShortcutList = part(loaders.switcher, 'ShortcutList');
export const ProfileCard = part(loaders.profileCard, 'ProfileCard');
export const E2EEControls = part(e2ee, 'E2EEControls');
export const EncryptedText = part(e2ee, 'EncryptedText');
export const EncryptionSystemLine = part(e2ee, 'EncryptionSystemLine');
export const Lightbox = part(loaders.lightbox, 'Lightbox');
export const MemberList = part(loaders.memberList, 'MemberList', <PartPlaceholder className="member-list" />);
export const SearchPanel = part(loaders.searchPanel, 'SearchPanel', <PartPlaceholder className="pins-panel" />);
export const PinsPanel = part(loaders.pinsPanel, 'PinsPanel', <PartPlaceholder className="pins-panel" />);
export const UserSettings = part(loaders.userSettings, 'UserSettings');
export const DMOptions = part(loaders.dmSafety, 'DMOptions');
export const DMCloseButton = part(loaders.dmSafety, 'DMCloseButton');
export const BlockedNotice = part(loaders.dmSafety, 'BlockedNotice');
export const NotificationsController = part(loaders.notifications, 'NotificationsController');
export const NotificationPrompt = part(loaders.notifications, 'NotificationPrompt');
export const MuteChannelButton = part(loaders.notifications, 'MuteChannelButton');
export const ReactedBy = part(loaders.userNames, 'ReactedBy');
export const TypingNames = part(loaders.userNames, 'TypingNames');
export const EditBox = part(loaders.messageActions, 'EditBox');
export const MessageMenuList = part(loaders.messageActions, 'MessageMenuList');
export const MessageToolbar = part(loaders.messageActions, 'MessageToolbar', null, true);
export const ReactionPicker = part(loaders.reactionPicker, 'ReactionPicker');
export const ServerMenu = part(loaders.serverMenu, 'ServerMenu');
export const LeaveDialog = part(loaders.messageDialogs, 'LeaveDialog');
export const DeleteConfirm = part(loaders.messageDialogs, 'DeleteConfirm');
export const ReplyBar = part(loaders.messageActions, 'ReplyBar');

/** The composer's upload code (Composer.tsx renders its tray and hands it files). */
export const uploadsChunk = loaders.composerUploads;

/** Loads the named parts' chunks (all with no names): what prefetchParts does; tests await it. */
export const loadParts = (...names: (keyof typeof loaders)[]) =>
  Promise.all((names.length ? names : (Object.keys(loaders) as (keyof typeof loaders)[])).map((n) => loaders[n]()));

/** Fetches every part once the browser is idle, so the first open is instant (and works offline). */
export function prefetchParts() {
  const run = () => void loadParts().catch(() => undefined);
  if (typeof window.requestIdleCallback === 'function') {
    const id = window.requestIdleCallback(run, { timeout: 5000 });
    return () => window.cancelIdleCallback(id);
  }
  const t = setTimeout(run, 2000);
  return () => clearTimeout(t);
}
