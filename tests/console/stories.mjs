// The web console's stories in a real browser: Debian's chromium driven by playwright-core. The Rust
// end-to-end tests (tests/tests/e2e/console.rs) start the relay, run one story with its settings as JSON in
// the first argument, and check what it reports on its last line of output (and the files it saved).
//
// A story throws on the first thing that is not as a user would expect it; the message says what.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const settings = JSON.parse(process.argv[2] ?? '{}');
const { url, story, out } = settings;
mkdirSync(out, { recursive: true });

function expect(condition, what) {
  if (!condition) throw new Error(what);
}

async function text(page, selector) {
  return (await page.locator(selector).innerText()).trim();
}

/** A browser whose pages fail the story on any script dialog (an injected script ran). */
async function open() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
    locale: 'ru-RU',
  });
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  return { browser, context, page, dialogs };
}

async function shoot(page, name) {
  if (!settings.screenshots) return;
  mkdirSync(settings.screenshots, { recursive: true });
  await page.screenshot({ path: join(settings.screenshots, `${name}.png`) });
}

async function signInWithCode(page, code, shot) {
  await page.goto(`${url}/admin`);
  expect(page.url().endsWith('/admin/sign-in'), `an anonymous visit lands on ${page.url()}`);
  if (shot) await shoot(page, shot);
  await page.fill('input[name=code]', code);
  await page.click('form:has(input[name=code]) button[type=submit]');
}

async function download(page, click, name) {
  const [file] = await Promise.all([page.waitForEvent('download'), click()]);
  const path = join(out, name);
  await file.saveAs(path);
  return path;
}

async function upload(page, name, csv) {
  await page.setInputFiles('input[name=list]', {
    name,
    mimeType: 'text/csv',
    buffer: Buffer.from(csv, 'utf8'),
  });
  await page.click('form[action="/admin/classes/import"] button[type=submit]');
}

async function classSizes(page) {
  return page.locator('#classes tbody tr').allInnerTexts();
}

/** The deputy director's working day, page by page. */
async function deputy() {
  const { browser, context, page, dialogs } = await open();
  const report = {};
  await signInWithCode(page, settings.code, 'sign-in');
  expect((await text(page, 'h1')) === 'Обзор', 'the director lands on the dashboard');
  const cookie = (await context.cookies()).find((c) => c.name === 'journal_console');
  expect(cookie, 'the console set its session cookie');
  report.cookie = { httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, secure: cookie.secure };
  await shoot(page, 'dashboard');

  // A class list with a bad row: the row is shown by number and nothing is imported.
  await page.click('nav >> text=Классы');
  const before = await classSizes(page);
  await upload(page, 'classes.csv', settings.bad_list);
  expect((await text(page, '#outcome')).includes('Ничего не загружено'), 'a bad list says nothing was imported');
  report.bad_rows = await page.locator('#bad-rows tbody tr').allInnerTexts();
  expect(JSON.stringify(await classSizes(page)) === JSON.stringify(before), 'a bad list changes no class');
  await shoot(page, 'classes-bad-row');
  await upload(page, 'classes.csv', settings.good_list);
  report.imported = await text(page, '#outcome');
  // The same page takes a spreadsheet.
  await page.setInputFiles('input[name=list]', settings.xlsx_list);
  await page.click('form[action="/admin/classes/import"] button[type=submit]');
  report.imported_xlsx = await text(page, '#outcome');
  report.classes = await classSizes(page);
  await shoot(page, 'classes');

  // Codes for the class, as slips to cut.
  await page.click('nav >> text=Коды доступа');
  await page.selectOption('select[name=class]', { label: settings.class_name });
  await shoot(page, 'codes');
  report.slips = await download(page, () => page.click('form[action="/admin/codes/slips"] button'), 'slips.pdf');

  // A lost phone: the parent's device is revoked and its live session closes.
  await page.click('nav >> text=Учётные записи');
  await page.fill('input[name=q]', settings.revoke_account_name);
  await page.click('form[action="/admin/accounts"] button');
  const found = page.locator('#accounts tbody tr');
  expect((await found.count()) === 1, `searching «${settings.revoke_account_name}» finds one account`);
  await shoot(page, 'accounts');
  await found.locator('a').click();
  await shoot(page, 'account-devices');
  const revoke = page.locator('#devices form button');
  expect((await revoke.count()) === 1, 'the parent has one device to revoke');
  report.revoked_at_ms = Date.now();
  await revoke.click();
  expect((await text(page, '#devices tbody')).includes('отключено'), 'the device shows as revoked');

  // A term report, picked by names.
  await page.click('nav >> text=Отчёты');
  await page.selectOption('select[name=kind]', 'term-report');
  await page.selectOption('select[name=class]', { label: settings.class_name });
  await page.selectOption('select[name=term]', { index: 1 });
  await shoot(page, 'reports');
  report.term_report = await download(page, () => page.click('#report button[type=submit]'), 'term-report.pdf');

  // The teacher's corrected mark in the audit trail, old → new, with who and from which device.
  await page.click('nav >> text=Журнал изменений');
  await page.selectOption('#audit select[name=class]', { label: settings.class_name });
  await page.selectOption('#audit select[name=student]', { label: settings.audit_student });
  await page.click('#audit button[type=submit]');
  report.audit = await page.locator('#edits tbody tr').allInnerTexts();
  await shoot(page, 'audit');

  // A backup now, then verified.
  await page.click('nav >> text=Резервные копии');
  await page.click('form[action="/admin/backups"] button');
  report.backup_taken = await text(page, '#outcome');
  await page.locator('#backups form button').first().click();
  report.backup_verified = await text(page, '#outcome');
  await shoot(page, 'backups');

  // The marking policy: a wrong threshold changes nothing; a new weight and window are kept.
  await page.click('nav >> text=Правила оценивания');
  await shoot(page, 'policy');
  const weight = page.locator('#kinds input[name^=kind_weight_]').first();
  report.weight_field = await weight.getAttribute('name');
  await page.fill('#policy input[name=five]', '7');
  const refused = await Promise.all([
    page.waitForNavigation(),
    page.click('#policy button[type=submit]'),
  ]);
  report.bad_policy_status = refused[0].status();
  report.bad_policy = await text(page, 'main');
  await page.goto(`${url}/admin/policy`);
  // A second tab opened on the same rules before they change.
  const stale = await context.newPage();
  await stale.goto(`${url}/admin/policy`);
  await weight.fill('2,5');
  await page.fill('#policy input[name=edit_lock_days]', '10');
  await page.click('#policy button[type=submit]');
  report.policy_saved = await text(page, '#outcome');
  await stale.fill('#policy input[name=edit_lock_days]', '3');
  const [staleSave] = await Promise.all([
    stale.waitForNavigation(),
    stale.click('#policy button[type=submit]'),
  ]);
  report.stale_policy_status = staleSave.status();
  await stale.close();

  await page.click('nav >> text=Учебный год');
  await shoot(page, 'year');

  // Every page shows names as text: the student named like a script never runs.
  for (const path of ['/admin', '/admin/classes', '/admin/codes', '/admin/reports', '/admin/accounts',
    '/admin/audit', '/admin/backups', '/admin/year', '/admin/policy']) {
    await page.goto(`${url}${path}`);
  }
  await page.goto(`${url}/admin/reports`);
  const options = await page.locator('select[name=student] option').allInnerTexts();
  report.script_named_student_listed = options.includes(settings.script_name);
  report.dialogs = dialogs;

  // Signing out ends the session: the console's device is revoked, the cookie gone.
  await page.click('header form.signout button');
  expect(page.url().endsWith('/admin/sign-in'), 'signing out returns to the sign-in page');
  await page.goto(`${url}/admin/accounts`);
  expect(page.url().endsWith('/admin/sign-in'), 'after signing out the console asks to sign in again');
  await browser.close();
  return report;
}

/** A class teacher sees their own class and nothing of the school's accounts. */
async function classTeacher() {
  const { browser, page, dialogs } = await open();
  const report = {};
  await signInWithCode(page, settings.code);
  report.title = await text(page, 'h1');
  report.nav = await page.locator('nav a').allInnerTexts();
  report.dashboard = await text(page, 'main');
  await shoot(page, 'class-teacher');
  const accounts = await page.goto(`${url}/admin/accounts`);
  report.accounts_status = accounts.status();
  await page.goto(`${url}/admin/codes`);
  report.code_classes = await page.locator('select[name=class] option').allInnerTexts();
  await page.goto(`${url}/admin/reports`);
  report.report_classes = await page.locator('select[name=class] option').allInnerTexts();
  report.report_kinds = await page.locator('select[name=kind] option').allInnerTexts();
  report.dialogs = dialogs;
  await browser.close();
  return report;
}

/** The end of the year: the freeze is confirmed by the year's name, then the next year is opened. */
async function yearEnd() {
  const { browser, page, dialogs } = await open();
  const report = {};
  await signInWithCode(page, settings.code);
  await page.click('nav >> text=Учебный год');
  const year = await page.locator('#freeze input[name=year]').inputValue();
  report.year = year;
  const attempt = async (confirm, early) => {
    await page.goto(`${url}/admin/year`);
    await page.fill('#freeze input[name=confirm]', confirm);
    if (early) await page.check('#freeze input[name=early]');
    const [response] = await Promise.all([page.waitForNavigation(), page.click('#freeze button')]);
    return { status: response.status(), text: await text(page, 'main') };
  };
  report.misnamed = await attempt('2020-2021', true);
  report.not_over = await attempt(year, false);
  report.frozen = await attempt(year, true);
  report.years = await page.locator('#years tbody tr').allInnerTexts();
  const next = await page.locator('#rollover b').innerText();
  await page.fill('#rollover input[name=confirm]', next);
  await page.click('#rollover button');
  report.rolled_over = await text(page, '#outcome');
  report.years_after = await page.locator('#years tbody tr').allInnerTexts();
  report.dialogs = dialogs;
  await browser.close();
  return report;
}

const stories = { deputy, 'class-teacher': classTeacher, 'year-end': yearEnd };
const run = stories[story];
if (!run) throw new Error(`no story ${story}`);
console.log(JSON.stringify(await run()));
