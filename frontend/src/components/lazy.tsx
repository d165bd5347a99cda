// Parts of the chat screen that the first paint does not need (issue #16: the chat screen's JavaScript budget):
// dialogs, the quick switcher, the profile card, the image lightbox. Each comes as its own chunk when first opened,
// inside its own Suspense (nothing else on the screen waits), and is prefetched once the browser is idle after the
// first paint.
import { lazy, Suspense, type ComponentProps, type ComponentType } from 'react';

// Encrypted DMs (with ts-mls, the largest part) load only when a DM is opened: not prefetched for everyone.
const e2ee = () => import('./E2EE');

const loaders = {
  modals: () => import('./modals'),
  serverSettings: () => import('./ServerSettings'),
  switcher: () => import('./Switcher'),
  profileCard: () => import('./ProfileCardPopover'),
  privacy: () => import('./PrivacySection'),
  lightbox: () => import('./Lightbox'),
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the same bound as React.lazy's own signature
function part<M extends Record<K, ComponentType<any>>, K extends keyof M>(load: () => Promise<M>, name: K) {
  const L = lazy(async () => ({ default: (await load())[name] }));
  return function LazyPart(props: ComponentProps<M[K]>) {
    return (
      <Suspense fallback={null}>
        <L {...props} />
      </Suspense>
    );
  };
}

export const InviteModal = part(loaders.modals, 'InviteModal');
export const NewDMModal = part(loaders.modals, 'NewDMModal');
export const CreateChannelModal = part(loaders.modals, 'CreateChannelModal');
export const EditChannelModal = part(loaders.modals, 'EditChannelModal');
export const CreateServerModal = part(loaders.modals, 'CreateServerModal');
export const JoinServerModal = part(loaders.modals, 'JoinServerModal');
export const ServerSettingsModal = part(loaders.serverSettings, 'ServerSettingsModal');
export const QuickSwitcher = part(loaders.switcher, 'QuickSwitcher');
export const ShortcutList = part(loaders.switcher, 'ShortcutList');
export const ProfileCard = part(loaders.profileCard, 'ProfileCard');
export const PrivacySection = part(loaders.privacy, 'PrivacySection');
export const E2EEControls = part(e2ee, 'E2EEControls');
export const EncryptedText = part(e2ee, 'EncryptedText');
export const Lightbox = part(loaders.lightbox, 'Lightbox');

/** Fetches every part once the browser is idle, so the first open is instant (and works offline). */
export function prefetchParts() {
  const run = () => void Promise.all(Object.values(loaders).map((l) => l())).catch(() => undefined);
  if (typeof window.requestIdleCallback === 'function') {
    const id = window.requestIdleCallback(run, { timeout: 5000 });
    return () => window.cancelIdleCallback(id);
  }
  const t = setTimeout(run, 2000);
  return () => clearTimeout(t);
}
