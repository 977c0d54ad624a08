/*
 * Pix payment page: live status, countdown and "copy code" button.
 *
 * Reads #payment: data-payment-id, data-status, data-expires-at,
 * data-status-url, data-events-url, data-statuses and data-live-statuses
 * (the server's status machine) and data-recheck-seconds. Live updates use
 * one mechanism at a time, in this order: Socket.IO (if window.io),
 * Server-Sent Events, long polling. The page reloads only when the server
 * reports a status other than the one it was rendered with. Each channel
 * announces itself in #payment's data-live ("socketio", "sse" or
 * "polling") once it has delivered the current state.
 *
 * A channel can look alive and still miss a change (the server's message
 * queue was down when it happened), so while it waits the page also asks
 * the status every data-recheck-seconds (give or take a tenth), and when
 * it becomes visible again; long polling asks by itself already.
 */
(function () {
  'use strict';

  const root = document.getElementById('payment');
  if (!root) {
    return;
  }

  const paymentId = root.dataset.paymentId || '';
  const renderedStatus = root.dataset.status || '';
  const statusUrl = root.dataset.statusUrl || '';
  const eventsUrl = root.dataset.eventsUrl || '';
  const expiresAt = Date.parse(root.dataset.expiresAt || '');

  // The server's status machine: every status, and those that can still change.
  const STATUSES = (root.dataset.statuses || '').split(' ').filter(Boolean);
  const LIVE_STATUSES = (root.dataset.liveStatuses || '').split(' ').filter(Boolean);
  const SOCKET_CONNECT_TIMEOUT_MS = 5000;
  const SOCKET_MAX_ERRORS = 3;
  const SSE_FIRST_EVENT_TIMEOUT_MS = 10000;
  const POLL_WAIT_SECONDS = 25;
  const POLL_MIN_INTERVAL_MS = 3000;
  const POLL_MAX_BACKOFF_MS = 15000;
  const RELOAD_GUARD_MS = 20000;
  const RECHECK_MS = Math.max(1, Number(root.dataset.recheckSeconds) || 25) * 1000;

  const statusText = document.getElementById('payment-status-text');

  function setStatusText(text) {
    if (statusText) {
      statusText.textContent = text;
    }
  }

  function sleep(ms) {
    return new Promise(function (resolve) {
      setTimeout(resolve, ms);
    });
  }

  /* ---------- Reload, with a guard against loops ---------- */

  const RELOAD_KEY = 'pix-reload:' + paymentId;
  let reloading = false;

  function readReloadMark() {
    try {
      return JSON.parse(window.sessionStorage.getItem(RELOAD_KEY) || 'null');
    } catch (e) {
      return null;
    }
  }

  function writeReloadMark(mark) {
    try {
      window.sessionStorage.setItem(RELOAD_KEY, JSON.stringify(mark));
    } catch (e) {
      // Storage disabled: the loop guard is best effort.
    }
  }

  function reloadFor(newStatus) {
    if (reloading) {
      return;
    }
    reloading = true;
    live.stop();

    // Reloaded for this same status moments ago and the server still
    // rendered the old one: do not loop, ask the customer instead.
    const mark = readReloadMark();
    const now = Date.now();
    const recent = mark && mark.status === newStatus && now - mark.at < RELOAD_GUARD_MS;
    const count = recent ? mark.count + 1 : 1;
    if (count > 2) {
      setStatusText('O status do pagamento mudou. Atualize a página.');
      return;
    }
    writeReloadMark({ status: newStatus, at: now, count: count });

    root.classList.add('is-updating');
    setStatusText(newStatus === 'paid' ? 'Pagamento recebido! Carregando…' : 'Status atualizado. Carregando…');
    window.location.reload();
  }

  // Act on a payment object; `channel` names the live channel that brought it.
  function handlePayment(data, channel) {
    if (!data || typeof data !== 'object' || STATUSES.indexOf(data.status) === -1) {
      return;
    }
    if (data.id && paymentId && data.id !== paymentId) {
      return;
    }
    if (channel && !live.stopped) {
      root.dataset.live = channel;
    }
    if (data.status !== renderedStatus) {
      reloadFor(data.status);
    }
  }

  /* ---------- Live updates: Socket.IO, then SSE, then long polling ---------- */

  const live = {
    stopped: false,
    cleanup: null,
    generation: 0,

    // Switch to the next mechanism; the previous one is closed first.
    // A start function returns its cleanup, or hands over at once by
    // calling live.use() itself (then its return value is ignored).
    use: function (start) {
      this.close();
      if (this.stopped) {
        return;
      }
      const generation = ++this.generation;
      const cleanup = start();
      if (generation === this.generation) {
        this.cleanup = cleanup || null;
      } else if (typeof cleanup === 'function') {
        cleanup();
      }
    },

    close: function () {
      const cleanup = this.cleanup;
      this.cleanup = null;
      if (cleanup) {
        cleanup();
      }
    },

    stop: function () {
      this.stopped = true;
      this.close();
    }
  };

  function isUnknownPaymentMessage(message) {
    return /unknown|not found|no such|invalid payment|desconhecid|não encontrad|nao encontrad/i.test(message || '');
  }

  function startSocketIO() {
    let socket;
    try {
      socket = window.io({ auth: { payment_id: paymentId } });
    } catch (e) {
      live.use(startSSE);
      return null;
    }
    let connected = false; // ever: once it has worked, it reconnects (and catches up) by itself
    let errors = 0;

    const timer = setTimeout(function () {
      if (!connected) {
        live.use(startSSE);
      }
    }, SOCKET_CONNECT_TIMEOUT_MS);

    socket.on('connect', function () {
      connected = true;
      errors = 0;
      clearTimeout(timer);
    });
    socket.on('payment_status', function (data) {
      handlePayment(data, 'socketio');
    });
    socket.on('disconnect', function (reason) {
      // The server closed the session on purpose: the client will not
      // reconnect by itself, so move on to the next mechanism.
      if (reason === 'io server disconnect') {
        live.use(startSSE);
      }
    });
    socket.on('connect_error', function (err) {
      if (isUnknownPaymentMessage(err && err.message)) {
        live.stop();
        return;
      }
      errors += 1;
      if (!socket.active || (!connected && errors >= SOCKET_MAX_ERRORS)) {
        // The server refused us, or it never worked: try the next mechanism.
        live.use(startSSE);
      }
    });

    return function () {
      clearTimeout(timer);
      socket.off();
      socket.close();
    };
  }

  function startSSE() {
    if (typeof window.EventSource !== 'function' || !eventsUrl) {
      live.use(startPolling);
      return null;
    }
    const source = new EventSource(eventsUrl);
    let gotEvent = false;

    // The server sends the current state first; if nothing arrives (a
    // buffering proxy, say), fall back to polling.
    const timer = setTimeout(function () {
      if (!gotEvent) {
        live.use(startPolling);
      }
    }, SSE_FIRST_EVENT_TIMEOUT_MS);

    source.addEventListener('payment_status', function (event) {
      gotEvent = true;
      clearTimeout(timer);
      let data = null;
      try {
        data = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      handlePayment(data, 'sse');
    });
    source.addEventListener('error', function () {
      // Never worked, or the browser gave up reconnecting: poll instead.
      if (!gotEvent || source.readyState === EventSource.CLOSED) {
        live.use(startPolling);
      }
    });

    return function () {
      clearTimeout(timer);
      source.close();
    };
  }

  function startPolling() {
    if (!statusUrl) {
      return null;
    }
    const url = new URL(statusUrl, window.location.href);
    url.searchParams.set('status', renderedStatus);

    const controller = typeof AbortController === 'function' ? new AbortController() : null;
    let active = true;

    (async function loop() {
      let failures = 0;
      let wait = 0; // the first answer comes at once: the current state
      while (active && !live.stopped) {
        const started = Date.now();
        url.searchParams.set('wait', String(wait));
        try {
          const response = await fetch(url.href, {
            cache: 'no-store',
            credentials: 'same-origin',
            headers: { Accept: 'application/json' },
            signal: controller ? controller.signal : undefined
          });
          if (response.status === 404) {
            live.stop();
            return;
          }
          if (!response.ok) {
            throw new Error('HTTP ' + response.status);
          }
          handlePayment(await response.json(), 'polling');
          failures = 0;
          // If a long poll came back at once (a proxy cut it short), do not hammer the server.
          const elapsed = Date.now() - started;
          if (wait > 0 && elapsed < POLL_MIN_INTERVAL_MS) {
            await sleep(POLL_MIN_INTERVAL_MS - elapsed);
          }
          wait = POLL_WAIT_SECONDS;
        } catch (e) {
          if (!active) {
            return;
          }
          failures += 1;
          await sleep(Math.min(1000 * Math.pow(2, failures - 1), POLL_MAX_BACKOFF_MS));
        }
      }
    })();

    return function () {
      active = false;
      if (controller) {
        controller.abort();
      }
    };
  }

  /* One look at the status, e.g. when the countdown reaches zero. */
  function checkStatusOnce() {
    if (!statusUrl || reloading) {
      return;
    }
    fetch(statusUrl, { cache: 'no-store', credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(handlePayment)
      .catch(function () {
        // The live channel will still deliver the change.
      });
  }

  /* A cheap look at the status every RECHECK_MS, whatever the live channel says. */
  function startRechecks() {
    function schedule() {
      const jitter = 0.9 + Math.random() * 0.2; // pages opened together do not ask together
      setTimeout(function () {
        if (live.stopped || reloading) {
          return;
        }
        if (root.dataset.live !== 'polling' && document.visibilityState !== 'hidden') {
          checkStatusOnce();
        }
        schedule();
      }, RECHECK_MS * jitter);
    }
    schedule();
    document.addEventListener('visibilitychange', function () {
      // Back from the bank's app: the payment may have happened meanwhile.
      if (document.visibilityState === 'visible' && !live.stopped && root.dataset.live !== 'polling') {
        checkStatusOnce();
      }
    });
  }

  /* ---------- Countdown (pending page) ---------- */

  function formatRemaining(totalSeconds) {
    const hours = Math.floor(totalSeconds / 3600);
    const minutes = Math.floor((totalSeconds % 3600) / 60);
    const seconds = totalSeconds % 60;
    const mm = String(minutes).padStart(2, '0');
    const ss = String(seconds).padStart(2, '0');
    return hours > 0 ? hours + ':' + mm + ':' + ss : mm + ':' + ss;
  }

  function startCountdown() {
    const countdown = document.getElementById('countdown');
    const label = document.getElementById('countdown-label');
    const time = document.getElementById('countdown-time');
    if (!countdown || !time || !isFinite(expiresAt)) {
      return;
    }
    let timer = null;
    let over = false;

    function expire() {
      over = true;
      countdown.classList.add('is-over');
      if (label) {
        label.textContent = '';
      }
      time.textContent = 'Expirado';
      root.classList.add('is-expired');
      const copyButton = document.getElementById('copy-button');
      if (copyButton) {
        copyButton.disabled = true;
      }
      setStatusText('Prazo encerrado. Verificando…');
      checkStatusOnce();
    }

    function tick() {
      clearTimeout(timer);
      if (over) {
        return;
      }
      const remaining = expiresAt - Date.now();
      if (remaining <= 0) {
        expire();
        return;
      }
      time.textContent = formatRemaining(Math.ceil(remaining / 1000));
      countdown.classList.toggle('is-urgent', remaining <= 5 * 60 * 1000);
      // Wake up on the next whole second of the remaining time.
      timer = setTimeout(tick, (remaining % 1000) || 1000);
    }

    countdown.hidden = false;
    tick();
    // Timers are throttled in background tabs; catch up on return.
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'visible') {
        tick();
      }
    });
  }

  /* ---------- Copy button (pending page) ---------- */

  function setupCopy() {
    const button = document.getElementById('copy-button');
    const field = document.getElementById('pix-code');
    const feedback = document.getElementById('copy-feedback');
    if (!button || !field) {
      return;
    }
    let resetTimer = null;

    // Select the whole code on the page, so that a manual copy takes all of it.
    function selectField() {
      const selection = window.getSelection ? window.getSelection() : null;
      if (!selection) {
        return;
      }
      selection.removeAllRanges();
      const range = document.createRange();
      range.selectNodeContents(field);
      selection.addRange(range);
    }

    function announce(message, isError) {
      clearTimeout(resetTimer);
      if (feedback) {
        // Clear first so the same message is announced again.
        feedback.textContent = '';
        feedback.classList.toggle('is-error', Boolean(isError));
        setTimeout(function () {
          feedback.textContent = message;
        }, 50);
      }
      button.classList.toggle('is-copied', !isError);
      resetTimer = setTimeout(function () {
        button.classList.remove('is-copied');
        if (feedback) {
          feedback.textContent = '';
        }
      }, 6000);
    }

    function legacyCopy() {
      selectField();
      let ok = false;
      try {
        ok = document.execCommand('copy');
      } catch (e) {
        ok = false;
      }
      if (ok && window.getSelection) {
        window.getSelection().removeAllRanges();
      }
      button.focus();
      return ok;
    }

    function reportLegacy() {
      if (legacyCopy()) {
        announce('Código copiado! Agora cole no app do seu banco.', false);
      } else {
        selectField();
        announce('Não foi possível copiar. Selecione o código e copie manualmente.', true);
      }
    }

    button.addEventListener('click', function () {
      const code = field.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(code).then(function () {
          announce('Código copiado! Agora cole no app do seu banco.', false);
        }, reportLegacy);
      } else {
        reportLegacy();
      }
    });

    // Clicking the code selects all of it, ready for a manual copy (CSS user-select: all
    // does the same where supported).
    field.addEventListener('click', selectField);
  }

  /* ---------- Web Push: "Avisar quando o pagamento for confirmado" (pending page) ---------- */

  const PUSH_TEXT = {
    idle: 'Avisar quando o pagamento for confirmado',
    working: 'Ativando o aviso…',
    on: 'Não avisar mais',
    done: 'Pronto! Você vai receber uma notificação quando o pagamento for confirmado, mesmo fora desta página.',
    off: 'Aviso desativado. Esta página continua se atualizando sozinha.',
    denied: 'As notificações estão bloqueadas para este site. Para receber o aviso, permita as notificações nas configurações do navegador e recarregue a página.',
    dismissed: 'Você não permitiu as notificações. Toque no botão de novo se mudar de ideia.',
    failed: 'Não foi possível ativar o aviso agora. Esta página continua se atualizando sozinha.',
    offFailed: 'Não foi possível desativar o aviso agora. Tente de novo em instantes.',
    closed: 'Este pagamento não está mais pendente; não há o que avisar.'
  };

  function pushSupported() {
    return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window &&
      window.isSecureContext !== false;
  }

  // base64url (no padding) -> the bytes PushManager.subscribe takes as applicationServerKey.
  function base64UrlBytes(text) {
    const base64 = (text + '==='.slice((text.length + 3) % 4)).replace(/-/g, '+').replace(/_/g, '/');
    const raw = window.atob(base64);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function sameKey(subscription, key) {
    const options = subscription.options;
    if (!options || !options.applicationServerKey) {
      return true; // cannot tell: keep it
    }
    const used = new Uint8Array(options.applicationServerKey);
    return used.length === key.length && used.every(function (byte, i) {
      return byte === key[i];
    });
  }

  function setupPush() {
    const section = document.getElementById('push');
    const button = document.getElementById('push-button');
    const label = document.getElementById('push-button-text');
    const status = document.getElementById('push-status');
    if (!section || !button || !label || !status || !pushSupported()) {
      return; // no push here (e.g. iOS outside the home screen): no button at all
    }
    const pushUrl = section.dataset.pushUrl;
    const workerUrl = section.dataset.workerUrl;
    const workerScope = section.dataset.workerScope;
    const STORE_KEY = 'pix-push:' + paymentId;
    let subscriptionId = null;
    try {
      subscriptionId = window.localStorage.getItem(STORE_KEY);
    } catch (e) {
      subscriptionId = null;
    }

    function say(text) {
      status.textContent = text;
    }

    // Busy, the button stays focusable (a disabled one would drop the keyboard's focus).
    let busy = false;

    function setBusy(value) {
      busy = value;
      button.setAttribute('aria-disabled', value ? 'true' : 'false');
    }

    function show(on) {
      label.textContent = on ? PUSH_TEXT.on : PUSH_TEXT.idle;
      setBusy(false);
      section.classList.toggle('is-on', on);
    }

    function remember(id) {
      subscriptionId = id;
      try {
        if (id) {
          window.localStorage.setItem(STORE_KEY, id);
        } else {
          window.localStorage.removeItem(STORE_KEY);
        }
      } catch (e) {
        // Storage disabled: the button forgets it after a reload; the server keeps it.
      }
    }

    section.hidden = false;
    if (Notification.permission === 'denied') {
      button.hidden = true;
      say(PUSH_TEXT.denied);
      return;
    }
    show(Boolean(subscriptionId) && Notification.permission === 'granted');

    async function turnOn() {
      const permission = await Notification.requestPermission();
      if (permission === 'denied') {
        button.hidden = true;
        say(PUSH_TEXT.denied);
        return;
      }
      if (permission !== 'granted') {
        say(PUSH_TEXT.dismissed);
        show(false);
        return;
      }
      const keyAnswer = await fetch(pushUrl, { cache: 'no-store', headers: { Accept: 'application/json' } });
      if (!keyAnswer.ok) {
        throw new Error('HTTP ' + keyAnswer.status);
      }
      const publicKey = (await keyAnswer.json()).public_key;
      await navigator.serviceWorker.register(workerUrl, { scope: workerScope });
      const registration = await navigator.serviceWorker.ready;
      const serverKey = base64UrlBytes(publicKey);
      // One browser subscription serves every charge (one worker scope); it is reused unless
      // it was made with another server key (the shop changed VAPID_PRIVATE_KEY).
      let subscription = await registration.pushManager.getSubscription();
      if (subscription && !sameKey(subscription, serverKey)) {
        await subscription.unsubscribe();
        subscription = null;
      }
      if (!subscription) {
        subscription = await registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: serverKey
        });
      }
      const answer = await fetch(pushUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(subscription.toJSON ? subscription.toJSON() : subscription)
      });
      if (answer.status === 409) {
        say(PUSH_TEXT.closed);
        show(false);
        button.disabled = true;
        return;
      }
      if (!answer.ok) {
        throw new Error('HTTP ' + answer.status);
      }
      remember((await answer.json()).id);
      show(true);
      say(PUSH_TEXT.done);
    }

    async function turnOff() {
      const id = subscriptionId;
      remember(null);
      show(false);
      if (id) {
        const answer = await fetch(pushUrl + '/' + encodeURIComponent(id), { method: 'DELETE' });
        if (!answer.ok && answer.status !== 404) { // 404: gone already
          remember(id);
          throw new Error('HTTP ' + answer.status);
        }
      }
      say(PUSH_TEXT.off);
    }

    button.addEventListener('click', function () {
      if (busy) {
        return;
      }
      const on = section.classList.contains('is-on');
      setBusy(true);
      if (!on) {
        label.textContent = PUSH_TEXT.working;
      }
      (on ? turnOff() : turnOn()).catch(function () {
        show(Boolean(subscriptionId)); // as it stands: still on if turning off failed
        say(on ? PUSH_TEXT.offFailed : PUSH_TEXT.failed);
      });
    });
  }

  /* ---------- Start ---------- */

  startCountdown();
  setupCopy();
  setupPush();

  if (LIVE_STATUSES.indexOf(renderedStatus) !== -1) {
    if (typeof window.io === 'function') {
      live.use(startSocketIO);
    } else {
      live.use(startSSE);
    }
    startRechecks();
  }
})();
