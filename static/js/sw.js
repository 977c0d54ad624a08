/*
 * The payment pages' service worker (scope /payments/pix/): shows the pushes
 * the server sends when a charge changes, and opens or focuses its page when
 * the customer taps the notification.
 *
 * A push's data is JSON {"title", "body", "url", "tag", "status"}; the tag
 * (payment-<id>) makes a newer notice of the same charge replace the older.
 */
'use strict';

const ICON = '/static/img/favicon.svg';
const FALLBACK = { title: 'Pagamento atualizado', body: 'Abra a página do pagamento para ver.' };

self.addEventListener('install', function () {
  self.skipWaiting();
});

self.addEventListener('activate', function (event) {
  event.waitUntil(self.clients.claim());
});

function readPush(event) {
  if (!event.data) {
    return FALLBACK;
  }
  try {
    const data = event.data.json();
    return data && typeof data === 'object' ? data : FALLBACK;
  } catch (e) {
    return FALLBACK;
  }
}

self.addEventListener('push', function (event) {
  const data = readPush(event);
  const scope = self.registration.scope;
  // Only our own pages are opened: a path (or URL) on this origin, else the scope itself.
  let url = scope;
  try {
    const target = new URL(data.url || scope, scope);
    url = target.origin === self.location.origin ? target.href : (data.url || scope);
  } catch (e) {
    url = scope;
  }
  const options = {
    body: String(data.body || FALLBACK.body),
    tag: data.tag ? String(data.tag) : undefined,
    renotify: Boolean(data.tag),
    icon: ICON,
    badge: ICON,
    lang: 'pt-BR',
    data: { url: url, status: data.status || null }
  };
  event.waitUntil(self.registration.showNotification(String(data.title || FALLBACK.title), options));
});

self.addEventListener('notificationclick', function (event) {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || self.registration.scope;
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(function (windows) {
      const wanted = new URL(url, self.registration.scope);
      for (const client of windows) {
        const open = new URL(client.url);
        if (open.origin === wanted.origin && open.pathname === wanted.pathname && 'focus' in client) {
          // The open page has reloaded itself on the change already: bring it forward.
          return client.focus();
        }
      }
      return self.clients.openWindow ? self.clients.openWindow(wanted.href) : null;
    })
  );
});
