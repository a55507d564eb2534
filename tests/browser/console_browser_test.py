#!/usr/bin/env python3
"""The admin console in a real browser (issue 16), end to end.

Starts auth0-sim and the real `tenantsync serve` (temp directory, ports chosen at run time, only
127.0.0.1) and drives headless Chromium through chromedriver (Debian's chromium, chromium-driver
and python3-selenium, installed by scripts/bootstrap):

  - an admin signs in with a token (kept only in an HttpOnly cookie), creates an organization and
    a user in it from the forms, watches both converge in the simulator, sends a password-reset
    email, blocks the user and reads the user's Auth0 activity table, and retries a dead letter
    (a membership role Auth0 does not have) from the dead-letters page;
  - an org-admin token for organization A sees A and not B, neither through the page nor through
    the API called from the page (404 for B's organization and user, 403 for changes and for
    tenant-wide endpoints);
  - a viewer sees no replay, retry, discard, pause, guard, drift or change buttons (an admin
    does, on the same pages), and the API refuses the viewer's replay and pause;
  - the page is usable at phone width (no sideways scrolling of the page).

Exit codes: 0 passed, 1 failed, 77 skipped (chromium, chromedriver or selenium missing; ctest's
SKIP_RETURN_CODE). `--screenshots DIR` also saves console-dashboard.png and console-user.png.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SKIP = 77
MARKUP = "<img src=x onerror=alert(1)><b>bold</b>"
SOURCE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CLIENT_ID = "console-browser-test-m2m-client"
CLIENT_SECRET = "console-browser-test-client-secret-42"
TOKENS = {
    "admin": "console-test-admin-token-0123456789abcdef",
    "acme-admins": "console-test-orgadmin-token-0123456789ab",
    "viewers": "console-test-viewer-token-0123456789abcd",
}


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def find_tools():
    """(chromium, chromedriver) or a reason to skip."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return None, "python3-selenium is not installed (scripts/bootstrap installs it)"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium:
        return None, "chromium is not installed (scripts/bootstrap installs it)"
    if not driver:
        return None, "chromedriver is not installed (package chromium-driver; scripts/bootstrap)"
    return (chromium, driver), None


class Process:
    """A child process whose merged output is read line by line on a thread."""

    def __init__(self, args, name):
        self.name = name
        self.lines = queue.Queue()
        self.output = []
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for_port(self, marker, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if marker in line:
                return int(line[line.index(marker) + len(marker):].strip().split()[0].rsplit(":", 1)[1])
        raise AssertionError(f"{self.name} did not print {marker!r}:\n" + "".join(self.output))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def http(method, url, body=None, headers=None):
    """(status, parsed JSON or text) of one request; never raises for HTTP statuses."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if body is not None and "Content-Type" not in req.headers:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def wait_until(what, predicate, timeout=20, interval=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
        except Exception as e:  # the page re-rendered under an element being read
            if type(e).__name__ != "StaleElementReferenceException":
                raise
            last = None
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


class Stack:
    """auth0-sim + tenantsync serve in a temp directory."""

    def __init__(self, build_dir):
        self.dir = tempfile.mkdtemp(prefix="ts-console-browser-")
        self.sim = Process([os.path.join(build_dir, "auth0-sim"), "--port", "0", "--domain",
                            "tenant.example.com", "--client-id", CLIENT_ID, "--client-secret",
                            CLIENT_SECRET, "--index-lag-ms", "0"], "auth0-sim")
        self.sim_url = f"http://127.0.0.1:{self.sim.wait_for_port('listening on ')}"
        self._write_config()
        self.daemon = Process([os.path.join(build_dir, "tenantsync"), "serve", "--config",
                               os.path.join(self.dir, "tenantsync.toml")], "tenantsync")
        self.ingress_url = f"http://127.0.0.1:{self.daemon.wait_for_port('ingress listening on ')}"
        self.admin_url = f"http://127.0.0.1:{self.daemon.wait_for_port('admin listening on ')}"

    def _write_config(self):
        def secret(name, value):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(value + "\n")
            os.chmod(os.path.join(self.dir, name), 0o600)

        secret("admin-token", TOKENS["admin"])
        secret("acme-admins-token", TOKENS["acme-admins"])
        secret("viewers-token", TOKENS["viewers"])
        secret("auth0-client-secret", CLIENT_SECRET)
        secret("hr-secret", SOURCE_SECRET)
        with open(os.path.join(self.dir, "tenantsync.toml"), "w") as f:
            f.write(f"""[storage]
path = "{self.dir}/tenantsync.db"

[ingress]
listen = "127.0.0.1:0"

[admin]
listen = "127.0.0.1:0"
token_file = "admin-token"

[[admin.tokens]]
name = "acme-admins"
token_file = "acme-admins-token"
role = "org-admin"
organizations = ["acme"]

[[admin.tokens]]
name = "viewers"
token_file = "viewers-token"
role = "viewer"

[[sources]]
name = "hr"
scheme = "standard-webhooks"
secret_file = "hr-secret"

[auth0]
domain = "tenant.example.com"
base_url = "{self.sim_url}"
client_id = "{CLIENT_ID}"
client_secret_file = "auth0-client-secret"
application_client_id = "{CLIENT_ID}"
""")

    def sim_state(self):
        return http("GET", self.sim_url + "/__sim/state")[1]

    def create_sim_role(self, name):
        status, token = http("POST", self.sim_url + "/oauth/token", {
            "grant_type": "client_credentials", "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "audience": "https://tenant.example.com/api/v2/"})
        assert status == 200, token
        status, role = http("POST", self.sim_url + "/api/v2/roles", {"name": name},
                            {"Authorization": "Bearer " + token["access_token"]})
        assert status in (200, 201), role

    def api(self, method, path, body=None, token="admin"):
        return http(method, self.admin_url + path, body,
                    {"Authorization": "Bearer " + TOKENS[token]})

    def webhook(self, event_id, body):
        """Signs `body` as a Standard Webhooks sender and posts it to /webhooks/hr."""
        raw = json.dumps(body).encode()
        ts = str(int(time.time()))
        key = base64.b64decode(SOURCE_SECRET[len("whsec_"):])
        sig = base64.b64encode(hmac.new(key, f"{event_id}.{ts}.".encode() + raw,
                                        hashlib.sha256).digest()).decode()
        return http("POST", self.ingress_url + "/webhooks/hr", raw, {
            "webhook-id": event_id, "webhook-timestamp": ts, "webhook-signature": "v1," + sig,
            "Content-Type": "application/json"})

    def stop(self):
        self.daemon.stop()
        self.sim.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Console:
    """The console page in headless Chromium."""

    def __init__(self, tools, base_url):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        chromium, driver = tools
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,800", "--no-first-run", "--disable-extensions",
                    "--disable-background-networking", "--disable-sync"):
            options.add_argument(arg)
        self.driver = webdriver.Chrome(service=Service(driver), options=options)
        self.driver.set_script_timeout(10)
        self.base = base_url + "/ui/"

    def quit(self):
        self.driver.quit()

    def by_css(self, css):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait_css(self, css, timeout=15, visible=True):
        def found():
            els = [e for e in self.by_css(css) if not visible or e.is_displayed()]
            return els[0] if els else None
        return wait_until(f"{css} on {self.driver.current_url}", found, timeout)

    def wait_text(self, css, text, timeout=15):
        return wait_until(f"{text!r} in {css}", lambda: any(
            text in e.text for e in self.by_css(css)), timeout)

    def go(self, route):
        self.driver.get(self.base + route)

    def flash(self):
        els = self.by_css("#flash")
        return els[0].text if els and els[0].is_displayed() else ""

    def wait_flash(self, text, timeout=15):
        return wait_until(f"message {text!r}", lambda: text in self.flash(), timeout)

    def accept_confirm(self):
        alert = wait_until("a confirmation dialog", lambda: self._alert(), 5)
        alert.accept()

    def _alert(self):
        from selenium.common.exceptions import NoAlertPresentException
        try:
            return self.driver.switch_to.alert
        except NoAlertPresentException:
            return None

    def sign_in(self, token):
        self.go("")
        field = self.wait_css("#token")
        field.send_keys(token)
        self.by_css("#signin-submit")[0].click()
        self.wait_css("#nav")

    def sign_out(self):
        self.by_css("#sign-out")[0].click()
        self.wait_css("#token")

    def fill(self, form_css, values):
        form = self.wait_css(form_css)
        from selenium.webdriver.common.by import By
        for name, value in values.items():
            field = form.find_element(By.NAME, name)
            field.clear()
            field.send_keys(value)
        return form

    def fetch(self, method, path, body=None, csrf=True):
        """Calls the API from the page (with the page's cookie): [status, parsed body]."""
        return self.driver.execute_async_script("""
            const [method, path, body, csrf, done] = arguments;
            (async () => {
              const headers = {'Content-Type': 'application/json'};
              if (csrf) headers['X-CSRF-Token'] = (await (await fetch('/v1/whoami')).json()).csrf;
              const r = await fetch(path, {method, headers,
                  body: body === null ? undefined : JSON.stringify(body)});
              const text = await r.text();
              let parsed = text;
              try { parsed = JSON.parse(text); } catch (e) {}
              done([r.status, parsed]);
            })().catch((e) => done([0, String(e)]));""", method, path, body, csrf)

    def screenshot(self, path):
        """The whole page at the window's width (the window grows to the page's height)."""
        width, height = self.driver.get_window_size().values()
        full = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(width, max(height, full + 140))
        time.sleep(0.3)
        self.driver.save_screenshot(path)
        self.driver.set_window_size(width, height)
        log(f"saved {path}")


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def run(args, tools):
    stack = Stack(args.build_dir)
    console = None
    try:
        stack.create_sim_role("member")
        # Organization B and one of its users, set up by an admin through the API.
        check(stack.api("POST", "/v1/events", {"type": "organization.upserted", "data": {
            "external_id": "globex", "name": "globex", "display_name": "Globex"}})[0] == 202,
            "creating organization globex through the API")
        check(stack.api("POST", "/v1/events", {"type": "user.upserted", "data": {
            "external_id": "emp-b", "email": "bob@globex.example",
            "organizations": [{"external_id": "globex", "roles": []}]}})[0] == 202,
            "creating user emp-b through the API")
        # A webhook the daemon refuses as invalid (a password): stored as rejected, so the events
        # page has something to replay; its markup must show as text, never run.
        status, body = stack.webhook("hr-bad-1", {"type": "user.upserted",
                                                  "timestamp": "2026-11-25T10:00:00Z",
                                                  "data": {"external_id": "emp-x",
                                                           "password": MARKUP}})
        check(status == 422, f"the invalid webhook was refused ({status} {body})")

        console = Console(tools, stack.admin_url)
        driver = console.driver

        # The static files need no token; the data does.
        status, _ = http("GET", stack.admin_url + "/v1/status")
        check(status == 401, "the API without a token answers 401")

        # --- admin: sign in ----------------------------------------------------------------
        log("admin signs in")
        console.go("")
        field = console.wait_css("#token")
        field.send_keys("wrong-token-0123456789")
        console.by_css("#signin-submit")[0].click()
        console.wait_flash("wrong token")
        console.sign_in(TOKENS["admin"])
        console.wait_text("#who-role", "admin")
        console.wait_css("#dashboard table")
        exposed = driver.execute_script(
            "return document.cookie + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
        check(TOKENS["admin"] not in exposed and "ts_session" not in exposed,
              f"the token is not visible to scripts: {exposed!r}")
        cookie = driver.get_cookie("ts_session")
        check(cookie and cookie.get("httpOnly") and cookie.get("sameSite") == "Strict",
              f"the session cookie is HttpOnly and SameSite=Strict: {cookie}")
        # Changes from the page need the CSRF header: the same call without it is refused.
        status, body = console.fetch("POST", "/v1/pause", None, csrf=False)
        check(status == 403, f"a cookie POST without X-CSRF-Token is refused: {status} {body}")

        # --- admin: create an organization ---------------------------------------------------
        log("admin creates organization acme")
        console.go("#/orgs/new")
        console.fill("#org-form", {"external_id": "acme", "name": "acme",
                                   "display_name": "Acme Inc.", "primary": "#1f4e79",
                                   "page_background": "#ffffff"})
        console.by_css("#org-form [data-add=metadata]")[0].click()
        console.fill("#org-form [data-rows=metadata] .row", {"metadata.key": "tier", "metadata.value": "gold"})
        console.by_css("#org-save")[0].click()
        console.wait_flash("Accepted: organization.upserted for acme")
        wait_until("acme created in Auth0 (its org_ id on the page)",
                   lambda: "org_" in (console.by_css("#view table.kv")[0].text
                                      if console.by_css("#view table.kv") else ""), 20)
        sim_org = wait_until("acme in the simulator", lambda: next(
            (o for o in stack.sim_state()["organizations"] if o["name"] == "acme"), None))
        check(sim_org["display_name"] == "Acme Inc." and sim_org["metadata"] == {"tier": "gold"},
              f"acme as created in the simulator: {sim_org}")

        # --- admin: create a user in it ------------------------------------------------------
        log("admin creates user emp-1 in acme")
        console.go("#/users/new")
        check(not console.by_css("input[type=password]"), "no password field on the user form")
        console.fill("#user-form", {"external_id": "emp-1", "email": "ada@acme.example",
                                    "name": "Ada Lovelace", "given_name": "Ada"})
        console.by_css("#user-form [data-add=organizations]")[0].click()
        console.fill("#user-form [data-rows=organizations] .row",
                     {"organizations.external_id": "acme", "organizations.roles": "member"})
        console.by_css("#user-save")[0].click()
        console.wait_flash("Accepted: user.upserted for emp-1")

        def converged():
            state = stack.sim_state()
            user = next((u for u in state["users"] if u.get("email") == "ada@acme.example"), None)
            org = next((o for o in state["organizations"] if o["name"] == "acme"), None)
            if not user or not org:
                return None
            member = next((m for m in org["members"] if m["user_id"] == user["user_id"]), None)
            return user if member and member["roles"] == ["member"] else None
        sim_user = wait_until("emp-1 a member of acme with role member in the simulator",
                              converged, 20)
        answer = json.dumps(stack.api("GET", "/v1/users/emp-1")[1])
        check('"password"' not in answer, f"no password in the user's answer: {answer}")

        # --- admin: reset email, block, activity ---------------------------------------------
        log("admin sends a reset email and blocks emp-1")
        console.go("#/user/emp-1")
        console.wait_css("#send-reset").click()
        console.accept_confirm()
        console.wait_flash("Accepted: user.password_reset_requested for emp-1")
        wait_until("a change-password email to ada@acme.example", lambda: any(
            e["type"] == "change_password" and e["to"] == "ada@acme.example"
            for e in stack.sim_state()["emails"]), 20)
        console.go("#/user/emp-1")
        console.fill("#view", {"reason": "left the project"})
        console.wait_css("#block").click()
        console.accept_confirm()
        console.wait_flash("Accepted: user.blocked for emp-1")
        wait_until("emp-1 blocked in the simulator", lambda: next(
            (u for u in stack.sim_state()["users"] if u["user_id"] == sim_user["user_id"]),
            {}).get("blocked") is True, 20)
        status, login = http("POST", stack.sim_url + "/__sim/login",
                             {"email": "ada@acme.example", "success": True})
        check(status == 200, f"a login attempt in the simulator: {login}")
        console.go("#/user/emp-1")
        wait_until("the activity table with the blocked login and the reset request", lambda: (
            console.by_css("table[data-table=activity]") and
            "f Failed Login" in console.by_css("table[data-table=activity]")[0].text and
            "scpr Success Change Password Request" in
            console.by_css("table[data-table=activity]")[0].text) or
            (console.by_css("#refresh")[0].click() if console.by_css("#refresh") else None), 20,
            interval=1)
        activity = console.by_css("table[data-table=activity]")[0].text
        check("user is blocked" in activity, f"the description in the activity table: {activity}")
        console.wait_text("table[data-table=memberships]", "member")
        console.wait_text("table.kv", "yes")  # blocked: yes
        if args.screenshots:
            console.go("#/users")  # a fresh page, without the last action's message
            console.wait_css("table[data-table=users]")
            console.go("#/user/emp-1")
            console.wait_css("table[data-table=activity]")
            console.screenshot(os.path.join(args.screenshots, "console-user.png"))

        # --- admin: a dead letter (a role Auth0 does not have) retried from the page ----------
        log("admin retries a dead mutation")
        check(stack.api("POST", "/v1/events", {"type": "user.upserted", "data": {
            "external_id": "emp-2", "email": "eve@acme.example",
            "organizations": [{"external_id": "acme", "roles": ["no-such-role"]}]}})[0] == 202,
            "creating user emp-2 with a role Auth0 does not have")
        dead = wait_until("a dead mutation for the missing role", lambda: next(
            (m for m in stack.api("GET", "/v1/mutations?state=dead")[1]["mutations"]
             if "no-such-role" in (m["error"] or "")), None), 20)
        console.go("#/dead")
        console.wait_text("table[data-table=mutations-dead]", "does not exist in Auth0")
        console.wait_css("table[data-table=mutations-dead] [data-action=retry]").click()
        console.wait_flash(f"Mutation {dead['id']} retried")
        status, retried = stack.api("GET", "/v1/mutations?limit=1000")
        check(any(m["id"] == dead["id"] and m["state"] != "dead" for m in retried["mutations"]),
              f"mutation {dead['id']} is no longer dead after the retry")
        wait_until("the retry to die again (the role still does not exist)", lambda: any(
            "no-such-role" in (m["error"] or "") and m["id"] != dead["id"]
            for m in stack.api("GET", "/v1/mutations?state=dead")[1]["mutations"]), 20)

        # --- admin sees the buttons a viewer must not ----------------------------------------
        console.go("#/event/hr-bad-1?source=hr")
        console.wait_css("#replay")
        check(MARKUP in console.wait_css("#view pre").text and not console.by_css("#view pre img")
              and console._alert() is None, "the payload's markup is shown as text, not run")
        console.go("")
        console.wait_css("#dashboard table")
        for button in ("#pause", "#guard-approve", "#guard-reject", "#drift-run"):
            check(console.by_css(button), f"an admin sees {button}")
        console.wait_text("[data-count=rejected]", "1")
        if args.screenshots:
            console.screenshot(os.path.join(args.screenshots, "console-dashboard.png"))

        # Phone width: the page itself does not scroll sideways.
        driver.set_window_size(390, 844)
        console.go("#/user/emp-1")
        console.wait_css("table[data-table=activity]")
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        check(overflow <= 1, f"no sideways scrolling at phone width (overflow {overflow} px)")
        driver.set_window_size(1280, 800)
        console.sign_out()
        status, body = console.fetch("GET", "/v1/whoami", None, csrf=False)
        check(status == 401, f"signed out: the cookie no longer works ({status} {body})")

        # --- org-admin for acme ---------------------------------------------------------------
        log("org-admin of acme signs in")
        console.sign_in(TOKENS["acme-admins"])
        console.wait_text("#who-role", "org-admin: acme")
        visible = [a.text for a in console.by_css("#nav a") if a.is_displayed()]
        check("Dashboard" not in visible and "Plan" not in visible,
              f"no tenant-wide pages for an org-admin: {visible}")
        console.wait_css("table[data-table=organizations]")
        orgs = console.by_css("table[data-table=organizations]")[0].text
        check("acme" in orgs and "globex" not in orgs, f"only acme is listed: {orgs}")
        console.go("#/users")
        users = console.wait_css("table[data-table=users]").text
        check("emp-1" in users and "emp-b" not in users, f"only acme's users are listed: {users}")
        console.go("#/org/globex")
        console.wait_flash('no organization with external_id "globex"', 25)
        for path, want in (("/v1/organizations/globex", 404), ("/v1/users/emp-b", 404),
                           ("/v1/status", 403), ("/v1/plan", 403),
                           ("/v1/organizations/acme", 200)):
            status, body = console.fetch("GET", path)
            check(status == want, f"org-admin GET {path}: {status} {body} (want {want})")
        for event, want in (
                ({"type": "organization.upserted",
                  "data": {"external_id": "globex", "display_name": "Mine now"}}, 403),
                ({"type": "user.blocked", "data": {"external_id": "emp-b"}}, 403),
                ({"type": "organization.deleted", "data": {"external_id": "acme"}}, 403),
                ({"type": "user.upserted", "data": {
                    "external_id": "emp-1",
                    "organizations": [{"external_id": "globex", "roles": []}]}}, 403)):
            status, body = console.fetch("POST", "/v1/events", event)
            check(status == want, f"org-admin POST {event}: {status} {body} (want {want})")
        console.go("#/org/acme")
        console.wait_css("#edit-org")
        check(not console.by_css("#remove-org"), "an org-admin is not offered to remove")
        globex = next(o for o in stack.sim_state()["organizations"] if o["name"] == "globex")
        check(globex["display_name"] == "Globex", f"globex unchanged: {globex}")
        console.sign_out()

        # --- viewer ------------------------------------------------------------------------------
        log("viewer signs in")
        console.sign_in(TOKENS["viewers"])
        console.wait_css("#dashboard table")
        for button in ("#pause", "#resume", "#guard-approve", "#guard-reject", "#drift-run"):
            check(not console.by_css(button), f"a viewer sees no {button}")
        console.go("#/event/hr-bad-1?source=hr")
        console.wait_text("#view table.kv", "rejected")
        check(not console.by_css("#replay"), "a viewer sees no replay button")
        console.go("#/user/emp-1")
        console.wait_css("table[data-table=activity]")
        for button in ("#edit-user", "#block", "#unblock", "#send-reset", "#send-verification"):
            check(not console.by_css(button), f"a viewer sees no {button}")
        console.go("#/dead")
        console.wait_text("table[data-table=mutations-dead]", "does not exist in Auth0")
        check(not console.by_css("[data-action]"), "a viewer sees no retry or discard button")
        status, body = console.fetch("POST", "/v1/events/hr-bad-1/replay?source=hr")
        check(status == 403, f"the API refuses a viewer's replay: {status} {body}")
        status, body = console.fetch("POST", "/v1/pause")
        check(status == 403, f"the API refuses a viewer's pause: {status} {body}")
        log("all console checks passed")
    except Exception:
        print("---- tenantsync output ----\n" + "".join(stack.daemon.output[-80:]), flush=True)
        if console:
            try:
                print("---- page ----\n" + console.driver.current_url + "\n" +
                      console.driver.find_element("css selector", "body").text[:3000], flush=True)
            except Exception as e:  # the browser itself failed
                print(f"(page not readable: {e})")
        raise
    finally:
        if console:
            console.quit()
        stack.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", required=True, help="directory holding tenantsync, auth0-sim")
    parser.add_argument("--screenshots", help="save console-dashboard.png and console-user.png here")
    args = parser.parse_args()
    tools, why = find_tools()
    if not tools:
        print(f"SKIPPED: {why}", flush=True)
        return SKIP
    started = time.time()
    try:
        run(args, tools)
    except AssertionError as e:
        print(f"FAILED: {e}", flush=True)
        return 1
    log(f"passed in {time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
