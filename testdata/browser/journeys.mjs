// The browser suite: real citizens' journeys through a running bridge (with
// its simulated gateway and demo SPs) in Debian's chromium, driven by
// playwright-core with the keyboard only, every page checked with axe-core
// (WCAG 2.1 A/AA) and the page rules of issue 14 (language, viewport, reflow
// at 320 CSS px, text spacing, visible focus, no dead ends).
//
// Usage: node journeys.mjs BASE_URL [journey-name-substring]
// Prints one JSON document on stdout (the Go test,
// cmd/clavebridge/internal/server/browser_test.go, asserts it); progress and
// chromium's noise go to stderr. Exit status 0 whenever the JSON was written
// (failures are in it), 2 when the suite could not run at all.
//
// Selectors use structure, names and values (form actions, button values,
// ?lang= links), never the pages' words: the pages are Spanish by default.

import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { deflateRawSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const CHROMIUM = process.env.CLAVEBRIDGE_CHROMIUM || '/usr/bin/chromium';
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const CITIZEN_ID = '99999999R'; // testdata/citizens.yaml: JUAN ESPAÑOL PRUEBAS, the first certificate
const MAX_TABS = 80;
const STEP_TIMEOUT = 15000;

const base = (process.argv[2] || '').replace(/\/+$/, '');
const only = process.argv[3] || '';
if (!/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost):\d+$/.test(base)) {
  process.stderr.write(`usage: node journeys.mjs http://127.0.0.1:PORT [filter]; got ${JSON.stringify(base)}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------- journeys

const dialects = ['saml2', 'clave2', 'stork'];
const journeys = [];
for (const dialect of dialects) {
  journeys.push({ name: `login ${dialect}, no JavaScript`, dialect, js: false, lang: 'es',
    // after the login: back to the bridge's ACS POST and reload it
    deadEnd: dialect === 'saml2' ? 'back-reload-acs' : null });
}
for (const dialect of dialects) {
  journeys.push({ name: `login ${dialect}, JavaScript`, dialect, js: true, lang: 'es',
    deadEnd: dialect === 'saml2' ? 'back-reload' : null });
}
journeys.push({ name: 'login saml2, English chosen on the first page', dialect: 'saml2', js: true, lang: 'en', switchTo: 'en' });
journeys.push({ name: 'login saml2, no JavaScript, reload of the bridge ACS answer', dialect: 'saml2', js: false, lang: 'es',
  reloadAtACS: true });
journeys.push({ name: 'error page: unknown SP', unknownSP: true, js: true, lang: 'es', acceptLanguage: 'de-DE' });

// ---------------------------------------------------------------- browser

// main runs at the end of this module, once the classes below exist.
// selfTest: axe-core, run as the journeys run it (scripts on, and off),
// finds the faults of a page built to have them; so "no violations" on our
// pages means something.
async function selfTest(browser) {
  const out = [];
  const context = await browser.newContext();
  try {
    for (const js of [true, false]) {
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('Emulation.setScriptExecutionDisabled', { value: !js });
      await page.setContent('<!DOCTYPE html><html><head><title>t</title></head><body><main><p><input type="text"></p><p><a href="/x"></a></p></main></body></html>');
      const r = await page.evaluate(runAxe, { source: axeSource, tags: WCAG_TAGS, noTimers: !js });
      const ids = r.violations.map((v) => v.id);
      const want = ['html-has-lang', 'label', 'link-name'];
      const missing = want.filter((w) => !ids.includes(w));
      out.push({ name: `axe-core finds known faults, scripts ${js ? 'on' : 'off'}`, ok: r.error === '' && missing.length === 0,
        detail: r.error || (missing.length ? `missed ${missing.join(', ')}; found ${ids.join(', ')}` : '') });
      await page.close();
    }
  } finally {
    await context.close();
  }
  return out;
}

function axeVersion() {
  try { return require('axe-core/package.json').version; } catch { return ''; }
}

// ---------------------------------------------------------------- driver

class Driver {
  constructor(page, journey, rec) {
    this.page = page;
    this.j = journey;
    this.rec = rec;
    this.lastDoc = null; // the last main-frame document response: {url, status, method, trace}
    this.current = null; // the record of the page being worked on
  }

  async init() {
    const { page } = this;
    this.cdp = await page.context().newCDPSession(page);
    await this.scripts(this.j.js);
    page.on('request', (req) => {
      let host = '';
      try { host = new URL(req.url()).hostname; } catch { return; }
      if (/^(data|about|chrome-error|blob):/.test(req.url())) return;
      if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host)) result.nonLoopback.push(req.url());
    });
    page.on('response', (resp) => {
      const req = resp.request();
      if (!req.isNavigationRequest() || req.frame() !== page.mainFrame()) return;
      const nav = { method: req.method(), url: resp.url(), status: resp.status(), trace: resp.headers()['x-trace-id'] || '' };
      this.lastDoc = nav;
      this.rec.navigations.push(nav);
    });
  }

  // scripts switches the page's own scripts on or off (CDP
  // Emulation.setScriptExecutionDisabled, which lasts across navigations;
  // what the tests evaluate still runs). Playwright's javaScriptEnabled
  // option does the same, but its pages would not let axe-core run: see
  // runAxe.
  async scripts(on) {
    await this.cdp.send('Emulation.setScriptExecutionDisabled', { value: !on });
  }

  // eval runs fn in the page, retrying while a navigation replaces it.
  async eval(fn, arg) {
    for (let i = 0; ; i++) {
      try {
        return await this.page.evaluate(fn, arg);
      } catch (e) {
        if (i < 20 && /context was destroyed|navigating|Cannot find context/i.test(e.message)) {
          await this.page.waitForLoadState('load').catch(() => {});
          continue;
        }
        throw e;
      }
    }
  }

  // act presses key on the focused element and waits for the navigation it
  // starts.
  async actNavigate(key) {
    await Promise.all([
      this.page.waitForNavigation({ waitUntil: 'load' }),
      this.page.keyboard.press(key),
    ]);
  }

  // settle waits for a page a person looks at: with JavaScript on, the
  // auto-posting pages go by on their own.
  async settle() {
    for (let i = 0; i < 12; i++) {
      await this.page.waitForLoadState('load');
      const here = this.page.url();
      const info = await this.eval(describePage);
      if (this.j.js && info.autoPost) {
        // (its target may redirect: wait for the page to leave, not to arrive)
        await this.page.waitForURL((u) => u.href !== here, { waitUntil: 'load' });
        continue;
      }
      return info;
    }
    throw new Error(`no page settled; last at ${this.page.url()}`);
  }

  // tabTo presses Tab until the focused element matches selector, checking
  // on the way that each focused element shows a focus indicator.
  async tabTo(selector) {
    const seen = [];
    for (let i = 0; i < MAX_TABS; i++) {
      await this.page.keyboard.press('Tab');
      const f = await this.eval(focusInfo, selector);
      seen.push(f.desc);
      if (f.desc && !f.indicator) this.current.focusProblems.add(f.desc);
      if (f.matches) return;
    }
    throw new Error(`keyboard: ${MAX_TABS} Tab presses never reached ${selector} at ${path(this.page.url())}; focus went ${seen.slice(0, 25).join(' → ')}`);
  }

  // sweep tabs through the whole page once, for the focus indicator check.
  async sweep() {
    const first = [];
    for (let i = 0; i < MAX_TABS; i++) {
      await this.page.keyboard.press('Tab');
      const f = await this.eval(focusInfo, '');
      if (!f.desc) { if (first.length) break; continue; }
      if (first.includes(f.desc)) break;
      first.push(f.desc);
      if (!f.indicator) this.current.focusProblems.add(f.desc);
    }
    this.current.focusables = first.length;
  }

  // visit records the page now shown and runs the page checks on it.
  async visit(kind, info, extra = {}) {
    const nav = this.lastDoc || { url: this.page.url(), status: 0, method: '', trace: '' };
    const rec = { step: this.rec.pages.length + 1, kind, url: path(this.page.url()), method: nav.method, status: nav.status,
      trace: nav.trace, title: info.title, checks: [], focusProblems: new Set() };
    this.rec.pages.push(rec);
    this.current = rec;
    await checkPage(this, rec, info, nav, extra);
    return rec;
  }
}

function path(u) {
  try { const x = new URL(u); return x.pathname + x.search; } catch { return u; }
}

function check(rec, name, ok, detail = '') {
  rec.checks.push({ name, ok: !!ok, detail: ok ? '' : String(detail).slice(0, 1500) });
}

// ---------------------------------------------------------------- journeys

async function loginJourney(d, j) {
  const { page } = d;
  await page.goto(`${base}/demo/`, { waitUntil: 'load' });
  let info = await d.settle();
  let done = false;
  let switched = !j.switchTo;
  for (let step = 0; step < 14 && !done; step++) {
    const url = new URL(page.url());
    if (info.autoPost) {
      // Only without JavaScript does a person see it: the no-script button.
      const rec = await d.visit('auto-post form', info, { expectSwitch: false });
      check(rec, 'no-script button', info.visibleSubmit, 'an auto-posting form without JavaScript shows no visible submit button');
      if (j.reloadAtACS && url.pathname === '/upstream/acs') {
        await reloadBridgeACS(d);
        return;
      }
      await d.tabTo(`form[action="${cssEscape(info.autoPost)}"] [type=submit], form[action="${cssEscape(info.autoPost)}"] button:not([type])`);
      await d.actNavigate('Enter');
    } else if (url.pathname === '/demo/' && !switched) {
      await d.visit('demo SP home (before the switch)', info, { lang: 'es' });
      await d.tabTo(`a[href*="lang=${j.switchTo}"]`);
      await d.actNavigate('Enter');
      switched = true;
    } else if (url.pathname === '/demo/') {
      await d.visit('demo SP home', info);
      await d.tabTo(`form[action$="/demo/${j.dialect}/login"] [type=submit], form[action$="/demo/${j.dialect}/login"] button:not([type])`);
      await d.actNavigate('Enter');
    } else if (info.idpChoice) {
      await d.visit('simulator: IdP choice', info);
      await d.tabTo('[name=idp][value=AFIRMA]');
      await d.actNavigate('Space');
    } else if (info.certificates) {
      await d.visit('simulator: certificate', info);
      await d.tabTo('input[name=certificate]');
      await page.keyboard.press('Space');
      const checked = await d.eval(() => !!document.querySelector('input[name=certificate]:checked'));
      if (!checked) throw new Error('keyboard: Space on the focused certificate radio did not select it');
      await d.tabTo('[name=next]');
      await d.actNavigate('Enter');
    } else if (url.pathname === `/demo/${j.dialect}/acs`) {
      const rec = await d.visit('demo SP result', info);
      await d.sweep();
      finishFocusCheck(rec);
      if (!info.text.includes(CITIZEN_ID)) {
        throw new Error(`the demo SP's result page does not show the citizen ${CITIZEN_ID}: ${info.title}: ${info.text.slice(0, 300)}`);
      }
      done = true;
      break;
    } else {
      await d.visit('unexpected page', info);
      throw new Error(`unexpected page ${path(page.url())} (HTTP ${d.lastDoc && d.lastDoc.status}): ${info.title}: ${info.text.slice(0, 300)}`);
    }
    finishFocusCheck(d.current);
    info = await d.settle();
  }
  if (!done) throw new Error(`login not finished after 14 pages, at ${path(page.url())}`);

  if (j.deadEnd === 'back-reload-acs') await backAndReload(d, '/upstream/acs');
  if (j.deadEnd === 'back-reload') await backAndReload(d, '');
}

// backAndReload: after a completed login, the browser's back button and a
// reload (which posts the form again, as a person confirming the browser's
// resubmission question does). Without JavaScript the entry before the
// demo's result is the bridge's ACS POST; with it, the auto-posted entries
// are replaced and back lands on the gateway's last page.
async function backAndReload(d, wantPath) {
  const { page } = d;
  const before = page.url();
  try {
    await page.goBack({ waitUntil: 'load' });
  } catch (e) {
    // A POST entry that is not cached: chromium shows its own error page
    // (ERR_CACHE_MISS, "confirm form resubmission").
    if (!/ERR_CACHE_MISS/.test(e.message)) throw e;
    await page.waitForURL((u) => u.href !== before, { waitUntil: 'load' });
  }
  d.lastDoc = null;
  await page.reload({ waitUntil: 'load' });
  const info = await d.settle();
  const rec = await d.visit('dead end: back and reload after the login', info, { errorPage: true, linkBack: true });
  if (wantPath) check(rec, 'reposted to the bridge ACS', d.lastDoc && d.lastDoc.method === 'POST' && path(d.lastDoc.url) === wantPath,
    `the reload posted to ${d.lastDoc && d.lastDoc.method} ${d.lastDoc && path(d.lastDoc.url)}, want POST ${wantPath}`);
  await d.sweep();
  await followSwitch(d, info, rec);
}

// reloadBridgeACS: on the bridge's answer (no JavaScript: the page that
// would post to the demo SP) the citizen reloads, posting the gateway's
// answer to the bridge a second time.
async function reloadBridgeACS(d) {
  d.lastDoc = null;
  await d.page.reload({ waitUntil: 'load' });
  const info = await d.settle();
  const rec = await d.visit('dead end: reload of the bridge ACS', info, { errorPage: true, linkBack: true });
  check(rec, 'reposted to the bridge ACS', d.lastDoc && d.lastDoc.method === 'POST' && path(d.lastDoc.url) === '/upstream/acs',
    `the reload went to ${d.lastDoc && d.lastDoc.method} ${d.lastDoc && path(d.lastDoc.url)}`);
  await d.sweep();
  await followSwitch(d, info, rec);
}

// unknownSPJourney: an AuthnRequest (Redirect binding, unsigned) from an SP
// the bridge does not know: its error page.
async function unknownSPJourney(d) {
  const id = '_' + randomBytes(16).toString('hex');
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const xml = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
    ` ID="${id}" Version="2.0" IssueInstant="${now}" Destination="${base}/saml2/sso"` +
    ` AssertionConsumerServiceURL="https://unknown-sp.invalid/acs"><saml:Issuer>https://unknown-sp.invalid/sp</saml:Issuer></samlp:AuthnRequest>`;
  const q = new URLSearchParams({ SAMLRequest: deflateRawSync(Buffer.from(xml)).toString('base64'), RelayState: 'browser-suite' });
  await d.page.goto(`${base}/saml2/sso?${q}`, { waitUntil: 'load' });
  const info = await d.settle();
  const rec = await d.visit('error page: unknown SP', info, { errorPage: true });
  await d.sweep();
  await followSwitch(d, info, rec);
}

// followSwitch: on an error page, the language switch (by keyboard) gives
// the same explanation in the other language, not a dead end.
async function followSwitch(d, info, rec) {
  const other = d.j.lang === 'es' ? 'en' : 'es';
  if (!info.langLinks.includes(other)) { // the page's own check has failed already
    finishFocusCheck(rec);
    return;
  }
  await d.tabTo(`a[href*="lang=${other}"]`);
  finishFocusCheck(rec);
  d.lastDoc = null;
  await d.actNavigate('Enter');
  const next = await d.settle();
  const again = await d.visit(`the same error page in ${other} (language switch)`, next,
    { lang: other, errorPage: true, switched: true, trace: rec.trace });
  await d.sweep();
  finishFocusCheck(again);
}

function finishFocusCheck(rec) {
  if (!rec || rec.focusChecked) return;
  rec.focusChecked = true;
  const problems = [...rec.focusProblems];
  check(rec, 'visible focus', problems.length === 0, `focused without an outline or box-shadow: ${problems.join(', ')}`);
  delete rec.focusProblems;
}

// ---------------------------------------------------------------- checks

// checkPage: the rules every page must pass. extra: {errorPage, linkBack,
// expectSwitch (default true), lang (override)}.
async function checkPage(d, rec, info, nav, extra) {
  const { page, j } = d;
  const wantLang = extra.lang || j.lang;
  {
    check(rec, 'HTTP status below 500', nav.status > 0 && nav.status < 500, `HTTP ${nav.status} for ${nav.method} ${path(nav.url)}`);
    check(rec, `html lang is ${wantLang}`, primary(info.lang) === wantLang, `<html lang="${info.lang}">`);
    check(rec, 'viewport meta', /width\s*=\s*device-width/.test(info.viewport), `meta viewport ${JSON.stringify(info.viewport)}`);
    check(rec, 'stylesheet', info.stylesheets.some((h) => new URL(h, page.url()).origin === new URL(base).origin),
      `no same-origin stylesheet linked (${info.stylesheets.join(', ') || 'none'})`);
    if (extra.expectSwitch !== false) {
      check(rec, 'accessibility statement link', info.footerLinks > 0, 'no link in the page footer (contentinfo)');
    }
    // The switch is a ?lang= link: a GET of the page in another language.
    // A page answering a POST cannot be asked for again (the message would
    // be a replay, the switch a dead end), so it is required on pages
    // reached by GET and on error pages (whose switch links the error page
    // itself); where a POST's page has one, it must stay on our origin.
    const other = wantLang === 'es' ? 'en' : 'es';
    if (extra.expectSwitch !== false && (nav.method === 'GET' || extra.errorPage)) {
      check(rec, 'language switch', info.langLinks.includes(other), `no link with ?lang=${other} (found: ${info.langLinks.join(', ') || 'none'})`);
    }
    const offSite = info.langHrefs.filter((h) => new URL(h, page.url()).origin !== new URL(base).origin);
    check(rec, 'language switch stays on the site', offSite.length === 0, `?lang= links elsewhere: ${offSite.join(', ')}`);

    const axe = await d.eval(runAxe, { source: axeSource, tags: WCAG_TAGS, noTimers: !j.js });
    check(rec, 'axe-core WCAG 2.1 A/AA', axe.error === '' && axe.violations.length === 0,
      axe.error || axe.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.targets.join(' ; ')}`).join(' | '));

    const vp = page.viewportSize();
    await page.setViewportSize({ width: 320, height: 640 });
    const reflow = await d.eval(() => ({ sw: document.scrollingElement.scrollWidth, cw: document.scrollingElement.clientWidth }));
    check(rec, 'no horizontal scroll at 320 CSS px', reflow.sw <= 320, `scrollWidth ${reflow.sw} at 320 px wide`);
    const spacing = await d.eval(textSpacing);
    check(rec, 'text spacing (WCAG 1.4.12) at 320 CSS px', spacing.sw <= 320 && spacing.clipped.length === 0,
      `scrollWidth ${spacing.sw}; clipped: ${spacing.clipped.join(', ')}`);
    await page.setViewportSize(vp);

    if (extra.errorPage) {
      // The page in the other language (a GET of the switch's link) names
      // the trace id of the request that failed, not its own.
      const trace = extra.trace || nav.trace;
      if (!extra.switched) check(rec, 'error status is 4xx', nav.status >= 400 && nav.status < 500, `HTTP ${nav.status}`);
      check(rec, 'trace id shown', trace !== '' && info.text.includes(trace), `trace id ${JSON.stringify(trace)} not in the page's text`);
      check(rec, 'no SAML URN or status code text', !/urn:oasis:names:tc:SAML|urn:oasis|status:(Requester|Responder|RequestDenied|AuthnFailed)/i.test(info.text),
        `page text shows SAML: ${(info.text.match(/.{0,40}urn:[^\s]*/i) || [''])[0]}`);
    }
    if (extra.linkBack) {
      const back = info.links.filter((h) => { try { const u = new URL(h, page.url()); return u.origin === new URL(base).origin && u.pathname.startsWith('/demo/'); } catch { return false; } });
      check(rec, 'link back to the service', back.length > 0, `no link to the demo SP (links: ${info.links.join(', ') || 'none'})`);
    }
  }
}

function primary(lang) {
  return String(lang || '').toLowerCase().split('-')[0];
}

function cssEscape(s) {
  return s.replace(/["\\]/g, '\\$&');
}

// ---------------------------------------------------------------- in the page
// (these run inside chromium; they use nothing from this module)

function describePage() {
  const forms = [...document.forms];
  const auto = forms.find((f) => f.querySelector('input[type=hidden][name=SAMLRequest], input[type=hidden][name=SAMLResponse], input[type=hidden][name=samlRequestLogout], input[type=hidden][name=samlResponseLogout]'));
  const visible = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el); return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const links = [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href'));
  return {
    title: document.title,
    lang: document.documentElement.getAttribute('lang') || '',
    viewport: (document.querySelector('meta[name=viewport]') || { content: '' }).content || '',
    stylesheets: [...document.querySelectorAll('link[rel~=stylesheet][href]')].map((l) => l.href),
    autoPost: auto ? auto.action : '',
    visibleSubmit: auto ? [...auto.querySelectorAll('button, input[type=submit]')].some(visible) : false,
    idpChoice: !!document.querySelector('[name=idp][value]'),
    certificates: !!document.querySelector('input[name=certificate]'),
    text: document.body ? document.body.innerText : '',
    links,
    langLinks: [...new Set(links.map((h) => { try { return new URL(h, location.href).searchParams.get('lang'); } catch { return null; } }).filter(Boolean))],
    langHrefs: links.filter((h) => { try { return new URL(h, location.href).searchParams.has('lang'); } catch { return false; } }),
    footerLinks: document.querySelectorAll('footer a[href], [role=contentinfo] a[href]').length,
  };
}

function focusInfo(selector) {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return { desc: '', matches: false, indicator: true };
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  const shadow = s.boxShadow && s.boxShadow !== 'none';
  let desc = el.tagName.toLowerCase();
  if (el.id) desc += '#' + el.id;
  if (el.getAttribute('name')) desc += `[name=${el.getAttribute('name')}]`;
  if (el.getAttribute('value') && el.tagName !== 'INPUT') desc += `[value=${el.getAttribute('value')}]`;
  if (el.getAttribute('href')) desc += `[href=${el.getAttribute('href').slice(0, 40)}]`;
  if (el.form) desc += `(form ${el.form.getAttribute('action') || ''})`;
  return { desc, matches: selector ? el.matches(selector) : false, indicator: outline || shadow };
}

// runAxe runs axe-core in the page. With the page's scripts off, chromium
// fires no timers (a timer there ends the renderer), so axe's own
// setTimeout calls run as microtasks for the duration of the run.
async function runAxe({ source, tags, noTimers }) {
  const saved = { setTimeout: window.setTimeout, clearTimeout: window.clearTimeout };
  if (noTimers) {
    window.setTimeout = (fn, _ms, ...args) => { Promise.resolve().then(() => (typeof fn === 'function' ? fn(...args) : undefined)); return 0; };
    window.clearTimeout = () => {};
  }
  try {
    if (!window.axe) (0, eval)(source);
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return { error: '', violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 4).map((n) => n.target.join(' ')) })) };
  } catch (e) {
    return { error: 'axe-core did not run: ' + e.message, violations: [] };
  } finally {
    window.setTimeout = saved.setTimeout;
    window.clearTimeout = saved.clearTimeout;
  }
}

// textSpacing applies WCAG 1.4.12's spacing through the CSSOM (the pages'
// CSP forbids inline style elements, not CSSOM changes), measures, and
// takes it away again.
function textSpacing() {
  const props = [['line-height', '1.5'], ['letter-spacing', '0.12em'], ['word-spacing', '0.16em']];
  const all = [...document.body.querySelectorAll('*')];
  for (const el of all) {
    for (const [p, v] of props) el.style.setProperty(p, v, 'important');
    if (el.tagName === 'P') el.style.setProperty('margin-bottom', '2em', 'important');
  }
  const sw = document.scrollingElement.scrollWidth;
  const clipped = [];
  for (const el of all) {
    const s = getComputedStyle(el);
    const hides = /hidden|clip/.test(s.overflowX + ' ' + s.overflowY);
    if (hides && el.textContent.trim() && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)) {
      clipped.push(el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : ''));
    }
  }
  for (const el of all) {
    for (const [p] of props) el.style.removeProperty(p);
    el.style.removeProperty('margin-bottom');
    if (el.getAttribute('style') === '') el.removeAttribute('style');
  }
  return { sw, clipped: clipped.slice(0, 10) };
}

// ---------------------------------------------------------------- main

const result = { base, chromium: '', axe: '', started: new Date().toISOString(), journeys: [], nonLoopback: [] };
async function main() {
  const t0 = Date.now();

  let browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // playwright-core gives the browser a fresh --user-data-dir of its own
      // (a temporary directory, removed at close).
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--disable-dev-shm-usage',
        // Only loopback: every other host goes to a closed local port, and no
        // name resolves but the loopback ones.
        '--proxy-server=http://127.0.0.1:9', // loopback bypasses a proxy by default
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost, EXCLUDE [::1]',
      ],
      timeout: 30000,
    });
  } catch (e) {
    process.stderr.write(`chromium did not start (${CHROMIUM}): ${e.message}\n`);
    process.exit(2);
  }
  result.chromium = browser.version();
  result.selfTest = await selfTest(browser);

  for (const j of journeys) {
    if (only && !j.name.includes(only)) continue;
    const started = Date.now();
    const rec = { name: j.name, lang: j.lang, js: j.js, ok: false, error: '', pages: [], navigations: [], ms: 0 };
    result.journeys.push(rec);
    process.stderr.write(`journey: ${j.name}\n`);
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      locale: j.acceptLanguage ? undefined : 'es-ES',
      extraHTTPHeaders: j.acceptLanguage ? { 'Accept-Language': j.acceptLanguage } : undefined,
      javaScriptEnabled: true, // scripts are switched off per page through CDP, see Driver.scripts
      serviceWorkers: 'block',
    });
    context.setDefaultTimeout(STEP_TIMEOUT);
    context.setDefaultNavigationTimeout(STEP_TIMEOUT);
    try {
      const page = await context.newPage();
      const d = new Driver(page, j, rec);
      await d.init();
      if (j.unknownSP) await unknownSPJourney(d);
      else await loginJourney(d, j);
      rec.ok = !rec.error;
    } catch (e) {
      rec.error = (e && e.message ? e.message : String(e)).split('\n').slice(0, 6).join(' | ');
    } finally {
      rec.ms = Date.now() - started;
      await context.close().catch(() => {});
    }
  }
  await browser.close().catch(() => {});
  result.ms = Date.now() - t0;
  result.axe = axeVersion();
  process.stdout.write(JSON.stringify(result, null, 1) + '\n');
}

await main();
