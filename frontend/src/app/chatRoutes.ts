// Everything behind login, loaded as one chunk (React.lazy in App.tsx) so the login, register and invite pages do
// not download the chat screen, and the chat screen's parts arrive together instead of one after another.
export { RealtimeProvider } from '../realtime/RealtimeProvider';
export { AppShell } from '../components/AppShell';
export { DMChannelPage, DMHome, ServerChannelPage, ServerRedirect } from '../pages/ChannelPages';
