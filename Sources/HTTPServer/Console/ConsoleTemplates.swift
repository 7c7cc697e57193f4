/// The console's Mustache templates. Kept in the binary (no files to ship or
/// lose); `{{x}}` escapes HTML, `{{{x}}}` is used only for markup the server
/// built itself (charts, the page inside the layout).
enum ConsoleTemplates {
    static let all: [String: String] = [
        "layout": layout, "login": login, "dashboard": dashboard, "keys": keys, "key": key, "keyCreated": keyCreated,
        "accounts": accounts, "account": account, "users": users, "requests": requests, "request": request, "usage": usage,
        "message": message, "audit": audit, "reconciliation": reconciliation, "simulate": simulate,
    ]

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Switchboard</title>
        <link rel="stylesheet" href="/admin/ui/console.css">
        </head>
        <body>
        <header>
        <a class="brand" href="/admin/ui/">Switchboard</a>
        {{#signedIn}}
        <nav aria-label="Main">
        <a href="/admin/ui/">Dashboard</a>
        <a href="/admin/ui/keys">Keys</a>
        <a href="/admin/ui/accounts">Accounts</a>
        <a href="/admin/ui/users">Users and groups</a>
        <a href="/admin/ui/requests">Requests</a>
        <a href="/admin/ui/usage">Usage</a>
        <a href="/admin/ui/reconciliation">Reconciliation</a>
        <a href="/admin/ui/simulate">Simulate</a>
        <a href="/admin/ui/audit">Audit</a>
        </nav>
        <form method="post" action="/admin/ui/logout" class="inline">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button type="submit">Sign out</button>
        </form>
        {{/signedIn}}
        </header>
        <main>
        <h1>{{title}}</h1>
        {{#flash}}<p role="status" class="flash {{#isError}}error{{/isError}}">{{text}}</p>{{/flash}}
        {{{content}}}
        </main>
        </body>
        </html>
        """

    static let message = """
        <p>{{text}}</p>
        <p><a href="{{back}}">Back</a></p>
        """

    static let login = """
        <form method="post" action="/admin/ui/login" class="card">
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required>
        <button type="submit">Sign in</button>
        </form>
        """

    static let dashboard = """
        {{#unready}}<section role="alert" class="flash error"><h2>Not ready: new requests are refused</h2><ul>{{#reasons}}<li>{{.}}</li>{{/reasons}}</ul></section>{{/unready}}
        <nav aria-label="Period" class="periods">
        {{#periods}}<a href="/admin/ui/?period={{name}}" {{#current}}aria-current="page"{{/current}}>{{name}}</a> {{/periods}}
        </nav>
        <section class="cards" aria-label="Totals">
        <div class="card"><h2>Requests</h2><p id="total-requests">{{requests}}</p></div>
        <div class="card"><h2>Errors</h2><p>{{errors}} ({{errorRate}})</p></div>
        <div class="card"><h2>Tokens</h2><p>{{tokens}}</p></div>
        <div class="card"><h2>Spend</h2><p>${{spend}}</p></div>
        <div class="card"><h2>Latency p50 / p95</h2><p>{{p50}} / {{p95}}</p></div>
        <div class="card"><h2>First byte p50 / p95</h2><p>{{fb50}} / {{fb95}}</p></div>
        </section>
        <section><h2>Requests</h2>{{{requestsChart}}}</section>
        <section><h2>Errors</h2>{{{errorsChart}}}</section>
        <section><h2>Tokens</h2>{{{tokensChart}}}</section>
        <section><h2>Spend</h2>{{{spendChart}}}</section>
        <section><h2>Mean latency</h2>{{{latencyChart}}}</section>
        <section><h2>Accounts by state</h2>
        <table><thead><tr><th scope="col">State</th><th scope="col">Accounts</th></tr></thead><tbody>
        {{#accountStates}}<tr><td>{{state}}</td><td>{{count}}</td></tr>{{/accountStates}}
        </tbody></table></section>
        <section><h2>Top keys</h2>
        <table><thead><tr><th scope="col">Key</th><th scope="col">Requests</th><th scope="col">Spend</th></tr></thead><tbody>
        {{#topKeys}}<tr><td>{{name}}</td><td>{{requests}}</td><td>${{cost}}</td></tr>{{/topKeys}}
        </tbody></table></section>
        <section><h2>Top models</h2>
        <table><thead><tr><th scope="col">Model</th><th scope="col">Requests</th><th scope="col">Spend</th></tr></thead><tbody>
        {{#topModels}}<tr><td>{{name}}</td><td>{{requests}}</td><td>${{cost}}</td></tr>{{/topModels}}
        </tbody></table></section>
        """

    static let keys = """
        <table>
        <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">State</th><th scope="col">User</th>
        <th scope="col">In flight</th><th scope="col">Today</th><th scope="col">Total</th><th scope="col">Tokens</th>
        <th scope="col">Balance left</th><th scope="col">Last used</th></tr></thead>
        <tbody>
        {{#keys}}<tr><td><a href="/admin/ui/keys/{{path}}">{{name}}</a></td><td><code>{{key}}</code></td><td>{{state}}</td>
        <td>{{user}}</td><td>{{inFlight}}</td><td>${{today}}</td><td>${{total}}</td><td>{{tokens}}</td><td>{{balance}}</td><td>{{lastUsed}}</td></tr>{{/keys}}
        {{^keys}}<tr><td colspan="10">No keys yet.</td></tr>{{/keys}}
        </tbody></table>
        <h2>Create a key</h2>
        <form method="post" action="/admin/ui/keys" class="card grid">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="name">Name</label><input id="name" name="name" required maxlength="128">
        {{> keyFields}}
        <label for="balance_usd">Balance (USD; change it later with Top up and Deduct)</label><input id="balance_usd" name="balance_usd" inputmode="decimal">
        <button type="submit">Create</button>
        </form>
        """

    /// The settings a key form edits, shared by the create and edit forms.
    static let keyFields = """
        <label for="description">Description</label><input id="description" name="description" value="{{description}}">
        <label for="user">User</label><input id="user" name="user" value="{{user}}">
        <label for="models">Allowed models (comma-separated globs)</label><input id="models" name="models" value="{{models}}">
        <label for="clients">Allowed clients (User-Agent globs)</label><input id="clients" name="clients" value="{{clients}}">
        <label for="pools">Route to pools (comma-separated; empty: its user's, else shared accounts)</label><input id="pools" name="pools" value="{{pools}}">
        <label for="accounts">Route to accounts (comma-separated)</label><input id="accounts" name="accounts" value="{{accounts}}">
        <label for="fallback_to_shared">Fall back to shared accounts</label><input type="checkbox" id="fallback_to_shared" name="fallback_to_shared" value="true"{{#fallbackToShared}} checked{{/fallbackToShared}}>
        <label for="ip_allow">Allowed client addresses (comma-separated ranges, e.g. 10.0.0.0/8)</label><input id="ip_allow" name="ip_allow" value="{{ipAllow}}">
        <label for="ip_deny">Refused client addresses (comma-separated ranges)</label><input id="ip_deny" name="ip_deny" value="{{ipDeny}}">
        <label for="concurrency">Concurrent requests</label><input id="concurrency" name="concurrency" inputmode="numeric" value="{{concurrency}}">
        <label for="token_limit">Total token limit</label><input id="token_limit" name="token_limit" inputmode="numeric" value="{{tokenLimit}}">
        <label for="daily_cost_usd">Daily cost limit (USD)</label><input id="daily_cost_usd" name="daily_cost_usd" inputmode="decimal" value="{{dailyCost}}">
        <label for="weekly_cost_usd">Weekly cost limit (USD, weeks from Monday)</label><input id="weekly_cost_usd" name="weekly_cost_usd" inputmode="decimal" value="{{weeklyCost}}">
        <label for="monthly_cost_usd">Monthly cost limit (USD)</label><input id="monthly_cost_usd" name="monthly_cost_usd" inputmode="decimal" value="{{monthlyCost}}">
        <label for="budget_usd">Budget (USD per budget period; without a period, for the key's life)</label><input id="budget_usd" name="budget_usd" inputmode="decimal" value="{{budget}}">
        <label for="budget_duration">Budget period (whole hours or days, e.g. 30d)</label><input id="budget_duration" name="budget_duration" value="{{budgetDuration}}">
        <label for="model_budgets">Model budgets (JSON, e.g. {"claude-opus-*": {"daily_usd": 10}})</label><input id="model_budgets" name="model_budgets" value="{{modelBudgets}}">
        <label for="expires_at">Expires at (UTC, e.g. 2027-01-01T00:00:00Z)</label><input id="expires_at" name="expires_at" value="{{expiresAt}}">
        """

    static let keyCreated = """
        <p role="alert">This is the only time the key is shown. Copy it now.</p>
        <p><label for="new-key">New key for {{name}}</label>
        <input id="new-key" class="secret" readonly value="{{secret}}" size="60">
        <button type="button" data-copy="new-key">Copy</button></p>
        <p><a href="/admin/ui/keys/{{path}}">Go to the key</a> · <a href="/admin/ui/keys">All keys</a></p>
        <script src="/admin/ui/console.js"></script>
        """

    static let key = """
        <dl class="facts">
        <dt>Key</dt><dd><code>{{key}}</code></dd>
        <dt>State</dt><dd id="key-state">{{state}}</dd>
        <dt>Source</dt><dd>{{source}}</dd>
        <dt>Created</dt><dd>{{createdAt}}</dd>
        <dt>Last used</dt><dd>{{lastUsed}}</dd>
        <dt>In flight</dt><dd>{{inFlight}}</dd>
        <dt>Spent today</dt><dd>${{today}}</dd>
        <dt>Spent in total</dt><dd>${{total}}</dd>
        <dt>Tokens in total</dt><dd>{{tokens}}</dd>
        <dt>Balance left</dt><dd>{{balanceLeft}}</dd>
        <dt>Budget</dt><dd id="key-budget">{{budgetState}}</dd>
        <dt>Usage last reset</dt><dd>{{usageReset}}</dd>
        <dt>Client addresses</dt><dd>{{addresses}}</dd>
        </dl>
        <div class="actions">
        {{#enabled}}<form method="post" action="/admin/ui/keys/{{path}}/disable"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Disable</button></form>{{/enabled}}
        {{^enabled}}<form method="post" action="/admin/ui/keys/{{path}}/enable"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Enable</button></form>{{/enabled}}
        <form method="post" action="/admin/ui/keys/{{path}}/topup"><input type="hidden" name="csrf" value="{{csrf}}">
        <label for="topup">Top-up amount (USD)</label><input id="topup" name="amount_usd" inputmode="decimal" required><button type="submit">Top up</button></form>
        <form method="post" action="/admin/ui/keys/{{path}}/deduct"><input type="hidden" name="csrf" value="{{csrf}}">
        <label for="deduct">Deduction (USD)</label><input id="deduct" name="amount_usd" inputmode="decimal" required><button type="submit">Deduct</button></form>
        <form method="post" action="/admin/ui/keys/{{path}}/reset_usage"><input type="hidden" name="csrf" value="{{csrf}}">
        <label for="reset-parts">Reset usage (window, daily, tokens; empty for all)</label><input id="reset-parts" name="parts"><button type="submit">Reset usage</button></form>
        <form method="post" action="/admin/ui/keys/{{path}}/delete"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Delete</button></form>
        </div>
        <section><h2>Spend by day, last 30 days</h2>{{{chart}}}
        <p>p95 latency: {{p95}}</p>
        <p>Prompt cache: {{cache}}</p>
        <table><caption>By model, last 30 days (list price by token class; Cost is what was charged)</caption>
        <thead><tr><th scope="col">Model</th><th scope="col">Requests</th><th scope="col">Tokens</th><th scope="col">Input</th>
        <th scope="col">Cache read</th><th scope="col">Cache write</th><th scope="col">Output</th><th scope="col">Cost</th></tr></thead>
        <tbody>{{#byModel}}<tr><td>{{model}}</td><td>{{requests}}</td><td>{{tokens}}</td><td>${{input}}</td><td>${{cacheRead}}</td>
        <td>${{cacheWrite}}</td><td>${{output}}</td><td>${{cost}}</td></tr>{{/byModel}}
        {{^byModel}}<tr><td colspan="8">No requests yet.</td></tr>{{/byModel}}</tbody></table></section>
        <section><h2>Limits and budgets</h2>
        <form method="post" action="/admin/ui/keys/{{path}}" class="card grid">
        <input type="hidden" name="csrf" value="{{csrf}}">
        {{> keyFields}}
        <button type="submit">Save</button>
        </form></section>
        <section><h2>Sessions, last 24 hours</h2>{{> sessionRows}}</section>
        <section><h2>Recent requests</h2>{{> requestRows}}
        <p><a href="/admin/ui/requests?key={{query}}">All of this key's requests</a></p></section>
        """

    /// A table of requests, shared by the explorer and the key page.
    static let requestRows = """
        <table>
        <thead><tr><th scope="col">Time (UTC)</th><th scope="col">Request</th><th scope="col">Key</th><th scope="col">Model</th>
        <th scope="col">Account</th><th scope="col">Status</th><th scope="col">Outcome</th><th scope="col">Tokens</th>
        <th scope="col">Cost</th><th scope="col">Latency</th></tr></thead>
        <tbody>
        {{#rows}}<tr><td>{{time}}</td><td><a href="/admin/ui/requests/{{path}}">{{id}}</a></td><td>{{key}}</td><td>{{model}}</td>
        <td>{{account}}</td><td>{{status}}</td><td>{{outcome}}</td><td>{{tokens}}</td><td>${{cost}}</td><td>{{latency}} ms</td></tr>{{/rows}}
        {{^rows}}<tr><td colspan="10">No requests.</td></tr>{{/rows}}
        </tbody></table>
        """

    /// A table of sessions, shared by the key and account pages.
    static let sessionRows = """
        <table>
        <thead><tr><th scope="col">Last active (UTC)</th><th scope="col">Session</th><th scope="col">Key</th><th scope="col">Accounts</th>
        <th scope="col">Requests</th><th scope="col">Cache hit</th><th scope="col">Cache read / written</th><th scope="col">Saved</th>
        <th scope="col">Cost</th></tr></thead>
        <tbody>
        {{#sessions}}<tr><td>{{lastAt}}</td><td><a href="/admin/ui/requests?session={{session}}"><code>{{short}}</code></a>{{#quarantined}} (quarantined){{/quarantined}}</td>
        <td>{{key}}</td><td>{{accounts}}</td><td>{{requests}}</td><td>{{hit}}</td><td>{{cacheRead}} / {{cacheWrite}}</td><td>${{saved}}</td><td>${{cost}}</td></tr>{{/sessions}}
        {{^sessions}}<tr><td colspan="9">No sessions.</td></tr>{{/sessions}}
        </tbody></table>
        """

    static let accounts = """
        <table>
        <thead><tr><th scope="col">Name</th><th scope="col">Provider</th><th scope="col">State</th><th scope="col">Why</th>
        <th scope="col">In flight</th><th scope="col">RPM</th><th scope="col">TPM</th><th scope="col">Priority</th>
        <th scope="col">Last error</th></tr></thead>
        <tbody>
        {{#accounts}}<tr><td><a href="/admin/ui/accounts/{{path}}">{{name}}</a></td><td>{{provider}}</td><td>{{state}}</td><td>{{reason}}</td>
        <td>{{inFlight}}</td><td>{{rpm}}</td><td>{{tpm}}</td><td>{{priority}}</td><td>{{lastError}}</td></tr>{{/accounts}}
        {{^accounts}}<tr><td colspan="9">No accounts yet.</td></tr>{{/accounts}}
        </tbody></table>
        <h2>Add an account</h2>
        <form method="post" action="/admin/ui/accounts" class="card grid">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="name">Name</label><input id="name" name="name" required maxlength="128">
        <label for="provider">Provider</label><select id="provider" name="provider"><option>openai</option><option>anthropic</option><option>gemini</option><option>azure</option></select>
        <label for="api_key">API key</label><input id="api_key" name="api_key" type="password" autocomplete="off" required>
        {{> accountFields}}
        <button type="submit">Add</button>
        </form>
        <h2>Quarantined sessions</h2>
        <table>
        <thead><tr><th scope="col">Since</th><th scope="col">Scope</th><th scope="col">Key</th><th scope="col">Account</th><th scope="col">Signal</th>
        <th scope="col">Request</th><th scope="col">Actions</th></tr></thead>
        <tbody>
        {{#quarantines}}<tr><td>{{createdAt}}</td><td>{{scope}}</td><td>{{key}}</td><td>{{account}}</td><td>{{signal}}</td><td><code>{{requestID}}</code></td>
        <td><form method="post" action="/admin/ui/quarantines/{{id}}/release" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Release</button></form></td></tr>{{/quarantines}}
        {{^quarantines}}<tr><td colspan="7">No session is quarantined.</td></tr>{{/quarantines}}
        </tbody></table>
        <h2>Model aliases</h2>
        <table>
        <thead><tr><th scope="col">Alias</th><th scope="col">Targets</th><th scope="col">Failovers</th><th scope="col">Actions</th></tr></thead>
        <tbody>
        {{#aliases}}<tr><td>{{name}}</td><td>{{targets}}</td><td>{{maxFailovers}}</td>
        <td><form method="post" action="/admin/ui/models/{{path}}/delete" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Delete</button></form></td></tr>{{/aliases}}
        {{^aliases}}<tr><td colspan="4">No aliases yet.</td></tr>{{/aliases}}
        </tbody></table>
        <form method="post" action="/admin/ui/models" class="card grid">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="alias-name">Alias</label><input id="alias-name" name="name" required maxlength="128">
        <label for="alias-targets">Targets in order (comma-separated; model:weight to share by weight)</label><input id="alias-targets" name="targets" required>
        <label for="alias-failovers">Failovers (empty for the gateway's)</label><input id="alias-failovers" name="max_failovers" inputmode="numeric">
        <button type="submit">Save alias</button>
        </form>
        <h2>Providers</h2>
        <table>
        <thead><tr><th scope="col">Provider</th><th scope="col">Failovers within its accounts</th></tr></thead>
        <tbody>
        {{#providers}}<tr><td>{{provider}}</td><td>{{maxFailovers}}</td></tr>{{/providers}}
        </tbody></table>
        <form method="post" action="/admin/ui/providers" class="card grid">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="provider-name">Provider</label><select id="provider-name" name="provider">{{#providers}}<option>{{provider}}</option>{{/providers}}</select>
        <label for="provider-failovers">Failovers within its accounts (empty: no cap of its own)</label><input id="provider-failovers" name="max_failovers" inputmode="numeric">
        <button type="submit">Save provider</button>
        </form>
        """

    /// The settings an account form edits, shared by the add and edit forms.
    static let accountFields = """
        <label for="base_url">Base URL (empty for the provider's)</label><input id="base_url" name="base_url" value="{{baseURL}}">
        <label for="models">Models (comma-separated names or globs: claude-*, *)</label><input id="models" name="models" value="{{models}}" required>
        <label for="model_list">Models behind the globs, for /v1/models (comma-separated)</label><input id="model_list" name="model_list" value="{{modelList}}">
        <label for="pools">Pools (comma-separated; none: shared by unbound keys)</label><input id="pools" name="pools" value="{{pools}}">
        <label for="priority">Priority (lower first)</label><input id="priority" name="priority" inputmode="numeric" value="{{priority}}">
        <label for="max_rpm">Requests per minute cap</label><input id="max_rpm" name="max_rpm" inputmode="numeric" value="{{maxRpm}}">
        <label for="max_tpm">Tokens per minute cap</label><input id="max_tpm" name="max_tpm" inputmode="numeric" value="{{maxTpm}}">
        <label for="weight">Weight (share of traffic among accounts of equal priority)</label><input id="weight" name="weight" inputmode="numeric" value="{{weight}}">
        <label for="headers">Headers added upstream (JSON, e.g. {"x-team": "a"})</label><input id="headers" name="headers" value="{{headers}}">
        <label for="body_overrides">Body fields set upstream (JSON, e.g. {"store": false})</label><input id="body_overrides" name="body_overrides" value="{{bodyOverrides}}">
        <label for="max_concurrency">Concurrency cap</label><input id="max_concurrency" name="max_concurrency" inputmode="numeric" value="{{maxConcurrency}}">
        <label for="auth_header">Credential header (OpenAI-compatible; empty for the provider's)</label><input id="auth_header" name="auth_header" value="{{authHeader}}">
        <label for="deployment">Azure deployment ({model} for the upstream model)</label><input id="deployment" name="deployment" value="{{deployment}}">
        <label for="api_version">Azure API version</label><input id="api_version" name="api_version" value="{{apiVersion}}">
        <label for="proxy">Proxy (http://HOST:PORT, socks5://HOST:PORT or direct; changing it needs the API key)</label><input id="proxy" name="proxy" value="{{proxy}}">
        <label for="ban_patterns">Ban patterns (comma-separated text meaning the account is banned)</label><input id="ban_patterns" name="ban_patterns" value="{{banPatterns}}">
        <label for="notes">Notes</label><input id="notes" name="notes" value="{{notes}}">
        """

    static let account = """
        <dl class="facts">
        <dt>Provider</dt><dd>{{provider}}</dd>
        <dt>State</dt><dd id="account-state">{{state}}</dd>
        <dt>Why</dt><dd>{{reason}}</dd>
        <dt>Cooling down until</dt><dd>{{cooldownUntil}}</dd>
        <dt>In flight / waiting</dt><dd>{{inFlight}} / {{waiting}}</dd>
        <dt>Requests / tokens this minute</dt><dd>{{rpm}} / {{tpm}}</dd>
        <dt>Requests / failures in total</dt><dd>{{totalRequests}} / {{totalFailures}}</dd>
        <dt>Last error</dt><dd>{{lastError}} {{lastErrorAt}}</dd>
        <dt>Last 429</dt><dd id="account-last-429">{{last429}}</dd>
        <dt>Secret</dt><dd>{{secret}}</dd>
        </dl>
        <section><h2>Last 24 hours</h2>{{{hourChart}}}
        <p>{{dayRequests}} requests, {{dayErrors}} errors ({{day429}} answered 429), p95 latency {{dayP95}}, prompt tokens read from cache {{dayCache}}.
        Cache reads saved ${{daySaved}} at list price.
        Per minute: <code>GET /admin/accounts/{{path}}/stats?interval=minute</code>.</p></section>
        <section><h2>Sessions, last 24 hours (the requests this account served)</h2>{{> sessionRows}}</section>
        <div class="actions">
        {{#enabled}}<form method="post" action="/admin/ui/accounts/{{path}}/disable"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Disable</button></form>{{/enabled}}
        {{^enabled}}<form method="post" action="/admin/ui/accounts/{{path}}/enable"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Enable</button></form>{{/enabled}}
        <form method="post" action="/admin/ui/accounts/{{path}}/test"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Test</button></form>
        <form method="post" action="/admin/ui/accounts/{{path}}/delete"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Delete</button></form>
        </div>
        <section><h2>Settings</h2>
        <form method="post" action="/admin/ui/accounts/{{path}}" class="card grid">
        <input type="hidden" name="csrf" value="{{csrf}}">
        {{> accountFields}}
        <label for="api_key">API key (needed to change the base URL; empty keeps the current one)</label>
        <input id="api_key" name="api_key" type="password" autocomplete="off">
        <button type="submit">Save</button>
        </form></section>
        <section><h2>Rotate the secret</h2>
        <form method="post" action="/admin/ui/accounts/{{path}}/rotate" class="card grid">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="new_api_key">New API key</label><input id="new_api_key" name="api_key" type="password" autocomplete="off" required>
        <button type="submit">Rotate</button>
        </form></section>
        """

    static let users = """
        <h2>Users</h2>
        <table>
        <thead><tr><th scope="col">Name</th><th scope="col">Group</th><th scope="col">Balance</th><th scope="col">Left</th>
        <th scope="col">Spent</th><th scope="col">Concurrency</th><th scope="col">Model budgets</th><th scope="col">Actions</th></tr></thead>
        <tbody>
        {{#users}}<tr><td>{{name}}</td><td>{{group}}</td><td>{{balance}}</td><td>{{remaining}}</td><td>${{spent}}</td><td>{{concurrency}}</td><td><code>{{modelBudgets}}</code></td>
        <td><form method="post" action="/admin/ui/users/{{path}}/topup" class="inline"><input type="hidden" name="csrf" value="{{csrf}}">
        <label for="topup-{{path}}">USD</label><input id="topup-{{path}}" name="amount_usd" size="6" required><button type="submit">Top up</button></form>
        <form method="post" action="/admin/ui/users/{{path}}/delete" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Delete</button></form></td></tr>{{/users}}
        {{^users}}<tr><td colspan="8">No users yet.</td></tr>{{/users}}
        </tbody></table>
        <form method="post" action="/admin/ui/users" class="card grid">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="user-name">Name</label><input id="user-name" name="name" required>
        <label for="user-group">Group</label><input id="user-group" name="group">
        <label for="user-balance">Balance (USD)</label><input id="user-balance" name="balance_usd" inputmode="decimal">
        <label for="user-concurrency">Concurrent requests across its keys</label><input id="user-concurrency" name="concurrency" inputmode="numeric">
        <label for="user-waiting">Requests that may queue for them</label><input id="user-waiting" name="max_waiting" inputmode="numeric">
        <label for="user-model-budgets">Model budgets (JSON, e.g. {"claude-opus-*": {"daily_usd": 10}})</label><input id="user-model-budgets" name="model_budgets">
        <label for="user-pools">Route its keys to pools (comma-separated)</label><input id="user-pools" name="pools">
        <label for="user-accounts">Route its keys to accounts (comma-separated)</label><input id="user-accounts" name="accounts">
        <button type="submit">Create user</button>
        </form>
        <h2>Groups</h2>
        <table>
        <thead><tr><th scope="col">Name</th><th scope="col">Price multiplier</th><th scope="col">Per model</th><th scope="col">Daily</th><th scope="col">Weekly</th>
        <th scope="col">Monthly</th><th scope="col">Actions</th></tr></thead>
        <tbody>
        {{#groups}}<tr><td>{{name}}</td><td>{{multiplier}}</td><td><code>{{perModel}}</code></td><td>{{daily}}</td><td>{{weekly}}</td><td>{{monthly}}</td>
        <td><form method="post" action="/admin/ui/groups/{{path}}/delete" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Delete</button></form></td></tr>{{/groups}}
        {{^groups}}<tr><td colspan="7">No groups yet.</td></tr>{{/groups}}
        </tbody></table>
        <form method="post" action="/admin/ui/groups" class="card grid">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="group-name">Name</label><input id="group-name" name="name" required>
        <label for="group-multiplier">Price multiplier</label><input id="group-multiplier" name="multiplier" inputmode="decimal">
        <label for="group-per-model">Multipliers per model (JSON, e.g. {"claude-opus-*": 1.5})</label><input id="group-per-model" name="price_multiplier">
        <label for="group-pools">Route its users' keys to pools (comma-separated)</label><input id="group-pools" name="pools">
        <label for="group-accounts">Route its users' keys to accounts (comma-separated)</label><input id="group-accounts" name="accounts">
        <label for="group-daily">Subscription per day (USD)</label><input id="group-daily" name="daily_usd" inputmode="decimal">
        <label for="group-weekly">Subscription per week (USD)</label><input id="group-weekly" name="weekly_usd" inputmode="decimal">
        <label for="group-monthly">Subscription per month (USD)</label><input id="group-monthly" name="monthly_usd" inputmode="decimal">
        <button type="submit">Create group</button>
        </form>
        """

    static let requests = """
        <form method="get" action="/admin/ui/requests" class="card grid filters">
        <label for="from">From (UTC)</label><input id="from" name="from" type="datetime-local" value="{{from}}">
        <label for="to">To (UTC)</label><input id="to" name="to" type="datetime-local" value="{{to}}">
        <label for="key">Key</label><input id="key" name="key" value="{{key}}">
        <label for="user">User</label><input id="user" name="user" value="{{user}}">
        <label for="account">Account</label><input id="account" name="account" value="{{account}}">
        <label for="model">Model</label><input id="model" name="model" value="{{model}}">
        <label for="dialect">Dialect</label><input id="dialect" name="dialect" value="{{dialect}}">
        <label for="status">Status (429 or 5xx)</label><input id="status" name="status" value="{{status}}">
        <label for="outcome">Outcome</label><select id="outcome" name="outcome"><option value="">any</option>{{#outcomes}}<option {{#selected}}selected{{/selected}}>{{name}}</option>{{/outcomes}}</select>
        <label for="request_id">Request id</label><input id="request_id" name="request_id" value="{{requestID}}">
        <label for="session">Session</label><input id="session" name="session" value="{{session}}">
        <button type="submit">Filter</button>
        </form>
        {{> requestRows}}
        {{#next}}<p><a href="/admin/ui/requests?{{next}}" rel="next">Older requests</a></p>{{/next}}
        """

    static let audit = """
        <form method="get" action="/admin/ui/audit" class="card grid filters">
        <label for="action">Action (key.update) or kind (key)</label><input id="action" name="action" value="{{action}}">
        <label for="target">Record name</label><input id="target" name="target" value="{{target}}">
        <label for="source">Source</label><select id="source" name="source"><option value="">any</option>{{#sources}}<option {{#selected}}selected{{/selected}}>{{name}}</option>{{/sources}}</select>
        <button type="submit">Filter</button>
        </form>
        <table>
        <caption>Admin actions, newest first</caption>
        <thead><tr><th scope="col">Time (UTC)</th><th scope="col">Who</th><th scope="col">From</th><th scope="col">Action</th><th scope="col">Record</th><th scope="col">Changes</th></tr></thead>
        <tbody>
        {{#rows}}<tr><td>{{time}}</td><td>{{who}}</td><td>{{source}} {{address}}</td><td>{{action}}</td><td>{{target}}</td><td>{{changes}}</td></tr>{{/rows}}
        {{^rows}}<tr><td colspan="6">No admin actions match.</td></tr>{{/rows}}
        </tbody>
        </table>
        {{#next}}<p><a href="/admin/ui/audit?{{next}}" rel="next">Older actions</a></p>{{/next}}
        """

    static let simulate = """
        <p>Replays the recorded requests against proposed keys, users and groups (settings named as in the config file;
        the ones not named stay as they are). Nothing is sent upstream or written.</p>
        <form method="post" action="/admin/ui/simulate" class="card grid">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="since">Since (e.g. 7d, 24h)</label><input id="since" name="since" value="{{since}}">
        <label for="proposal">Proposal (JSON)</label>
        <textarea id="proposal" name="proposal" rows="8" cols="80">{{proposal}}</textarea>
        <button type="submit">Simulate</button>
        </form>
        {{#report}}<section><h2>Result</h2>
        <p>{{requests}} requests replayed, {{refused}} would be refused; charged ${{recorded}}, under the proposal ${{simulated}}.</p>
        <table><thead><tr><th scope="col">Key</th><th scope="col">Requests</th><th scope="col">Admitted</th><th scope="col">Queued</th>
        <th scope="col">Refused, and why</th><th scope="col">Charged</th><th scope="col">Under the proposal</th><th scope="col">Peak concurrency</th></tr></thead>
        <tbody>{{#keys}}<tr><td>{{key}}</td><td>{{requests}}</td><td>{{admitted}}</td><td>{{queued}}</td><td>{{refused}}</td>
        <td>${{recorded}}</td><td>${{simulated}}</td><td>{{peak}}</td></tr>{{/keys}}
        {{^keys}}<tr><td colspan="8">No requests in that time.</td></tr>{{/keys}}</tbody></table></section>{{/report}}
        """

    static let reconciliation = """
        {{^report}}<p>No reconciliation yet. Run <code>switchboard reconcile --provider openai FILE</code> with the provider's usage or cost export.</p>{{/report}}
        {{#report}}
        <p>{{provider}}, {{account}}, {{from}} to {{to}}, compared at {{createdAt}} (UTC). Drift is the ledger less the provider.</p>
        <table>
        <caption>The ledger against the provider's export, by day and model</caption>
        <thead><tr><th scope="col">Day</th><th scope="col">Model</th><th scope="col">Ledger tokens</th><th scope="col">Provider tokens</th><th scope="col">Drift</th><th scope="col">Drift %</th><th scope="col">Ledger $</th><th scope="col">Provider $</th><th scope="col">Drift $</th></tr></thead>
        <tbody>
        {{#lines}}<tr><td>{{day}}</td><td>{{model}}</td><td>{{ledgerTokens}}</td><td>{{providerTokens}}</td><td>{{driftTokens}}</td><td>{{driftPercent}}</td><td>{{ledgerUsd}}</td><td>{{providerUsd}}</td><td>{{driftUsd}}</td></tr>{{/lines}}
        </tbody>
        </table>
        {{/report}}
        """

    static let request = """
        <dl class="facts">
        <dt>Time (UTC)</dt><dd>{{time}}</dd>
        <dt>Key</dt><dd>{{key}}</dd>
        <dt>User</dt><dd>{{user}}</dd>
        <dt>Route</dt><dd>{{dialect}}{{#stream}} (streamed){{/stream}}</dd>
        <dt>Model</dt><dd>{{model}} → {{upstreamModel}}</dd>
        <dt>Account</dt><dd>{{account}} ({{provider}}), chosen: {{selection}}</dd>
        <dt>Status</dt><dd id="request-status">{{status}}</dd>
        <dt>Outcome</dt><dd>{{outcome}} {{errorCode}}</dd>
        <dt>Tokens</dt><dd>input {{input}}, cache read {{cacheRead}}, cache write 5 m {{cacheWrite5m}}, cache write 1 h {{cacheWrite1h}}, output {{output}} (reasoning {{reasoning}}); {{usageSource}}{{#usageIncomplete}}, incomplete{{/usageIncomplete}}</dd>
        <dt>Cost billed</dt><dd>${{cost}}</dd>
        <dt>Upstream list price</dt><dd>${{upstreamCost}}</dd>
        <dt>Latency / first byte</dt><dd>{{latency}} ms / {{firstByte}}</dd>
        <dt>Upstream time / added by the gateway</dt><dd>{{upstream}} / {{added}}</dd>
        <dt>Client</dt><dd>{{clientAddress}} · {{userAgent}}</dd>
        </dl>
        <h2>Attempts</h2>
        <ol>
        {{#hops}}<li>{{account}}: {{reason}}</li>{{/hops}}
        {{#account}}<li>{{account}}: served ({{status}}), chosen: {{selection}}</li>{{/account}}
        </ol>
        {{#capture}}<section><h2>Captured bodies</h2>
        <h3>Request{{#requestCut}} (cut at capture.max_bytes){{/requestCut}}</h3><pre class="capture">{{request}}</pre>
        <h3>Response{{#responseCut}} (cut at capture.max_bytes){{/responseCut}}</h3><pre class="capture">{{response}}</pre></section>{{/capture}}
        {{#captureProblem}}<p role="alert">{{captureProblem}}</p>{{/captureProblem}}
        """

    static let usage = """
        <form method="get" action="/admin/ui/usage" class="card grid filters">
        <label for="by">By</label><select id="by" name="by">{{#dimensions}}<option {{#selected}}selected{{/selected}}>{{name}}</option>{{/dimensions}}</select>
        <label for="from">From (UTC date)</label><input id="from" name="from" type="date" value="{{from}}">
        <label for="to">To (UTC date, exclusive)</label><input id="to" name="to" type="date" value="{{to}}">
        <button type="submit">Show</button>
        </form>
        <p><a href="/admin/ui/usage.csv?{{query}}">Download CSV</a></p>
        <table>
        <thead><tr><th scope="col">{{by}}</th><th scope="col">Requests</th><th scope="col">Errors</th><th scope="col">Input</th>
        <th scope="col">Cache read</th><th scope="col">Cache write</th><th scope="col">Output</th><th scope="col">Cost</th></tr></thead>
        <tbody>
        {{#rows}}<tr><td>{{name}}</td><td>{{requests}}</td><td>{{errors}}</td><td>{{input}}</td><td>{{cacheRead}}</td><td>{{cacheWrite}}</td><td>{{output}}</td><td>${{cost}}</td></tr>{{/rows}}
        {{^rows}}<tr><td colspan="8">No requests in this period.</td></tr>{{/rows}}
        </tbody></table>
        """

    static let partials: [String: String] = [
        "keyFields": keyFields, "accountFields": accountFields, "requestRows": requestRows, "sessionRows": sessionRows,
    ]

    static let css = """
        body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f7f7f8}
        header{display:flex;gap:1.5rem;align-items:center;padding:.6rem 1.2rem;background:#1f2937;color:#fff;flex-wrap:wrap}
        header a{color:#fff}.brand{font-weight:700;text-decoration:none}nav a{margin-right:1rem}
        main{padding:1rem 1.2rem;max-width:1200px}
        table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;background:#fff}
        th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;font-size:.9rem}
        .cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{background:#fff;border:1px solid #ddd;padding:.6rem 1rem;margin:.5rem 0}
        .card h2{font-size:.85rem;margin:0;color:#555}.card p{font-size:1.3rem;margin:.2rem 0}
        .grid{display:grid;grid-template-columns:max-content minmax(12rem,28rem);gap:.4rem .8rem;align-items:center}
        .grid button{grid-column:2;justify-self:start}
        .filters{grid-template-columns:repeat(4,max-content minmax(8rem,14rem))}
        .actions{display:flex;gap:1rem;flex-wrap:wrap;align-items:center}.actions form{display:flex;gap:.4rem;align-items:center}
        .inline{display:inline-flex;gap:.3rem;align-items:center}
        .flash{padding:.5rem;background:#e6f4ea;border:1px solid #9c9}.flash.error{background:#fdecea;border-color:#e99}
        .danger{color:#a00}.chart{width:100%;max-width:640px;height:auto;background:#fff;border:1px solid #ddd}
        .chart .bar{fill:#2563eb}.chart .axis{stroke:#999}.chart .label{font-size:10px;fill:#555}
        .facts{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}.facts dt{font-weight:600}
        .periods a[aria-current]{font-weight:700}.secret{font-family:monospace}
        """

    static let script = """
        document.querySelectorAll('[data-copy]').forEach(function (button) {
          button.addEventListener('click', function () {
            var field = document.getElementById(button.getAttribute('data-copy'));
            field.select();
            if (navigator.clipboard) { navigator.clipboard.writeText(field.value); } else { document.execCommand('copy'); }
            button.textContent = 'Copied';
          });
        });
        """
}
