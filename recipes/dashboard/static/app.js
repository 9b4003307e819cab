// The dashboard: reads the host's public routes every few seconds and shows them. Plain ES module,
// no framework, nothing fetched from elsewhere; text is always set with textContent.
const root = new URL('../../', location.href); // the page is served at <root>recipes/ui/
const url = (path) => new URL(path.replace(/^\//, ''), root);
const $ = (id) => document.getElementById(id);

let config = { RefreshSeconds: 3, RecentInstances: 12 };
let timer;

/** GET or POST a route; resolves with { status, body } or rejects when the host cannot be reached. */
async function call(path, method = 'GET') {
  const answer = await fetch(url(path), { method, headers: { accept: 'application/json' }, cache: 'no-store' });
  const text = await answer.text();
  let body = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: answer.status, body };
}

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement('td');
    if (cell instanceof Node) td.append(cell);
    else td.textContent = cell === undefined || cell === null ? '' : String(cell);
    tr.append(td);
  }
  return tr;
}

function facts(list, entries) {
  list.replaceChildren(...entries.flatMap(([name, value]) => [element('dt', name), element('dd', value ?? '—')]));
}

function setConnection(text, state) {
  const status = $('connection');
  status.textContent = text;
  status.className = `state-${state}`;
}

function markStale(stale) {
  for (const section of document.querySelectorAll('main section')) section.classList.toggle('stale', stale);
}

const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }) : '—');
/** Orthanc writes dates as `20241005T120000` (UTC): shown as `2024-10-05 12:00:00`. */
const orthancTime = (text) =>
  typeof text === 'string' ? text.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2}).*$/, '$1-$2-$3 $4:$5:$6') : '';
const duration = (ms) => (typeof ms === 'number' ? (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`) : '—');

/** The hosts sharing the work (state in PostgreSQL): alive or gone, their leases, what each does. */
function clusterFacts(cluster) {
  if (!cluster || !Array.isArray(cluster.Hosts)) return cluster?.Error ? [['State database', cluster.Error]] : [];
  if (cluster.Engine !== 'PostgreSQL') return [['State database', cluster.Engine]];
  const doing = (activity) =>
    Object.entries(activity ?? {})
      .map(([recipe, what]) => `${recipe} ${JSON.stringify(what)}`)
      .join(' · ');
  return [
    ['State database', `PostgreSQL, ${cluster.Hosts.filter((h) => h.Alive).length} host(s) alive, leases of ${cluster.LeaseSeconds} s`],
    ...cluster.Hosts.map((h) => [
      `Host ${h.Name}${h.Id === cluster.HostId ? ' (this one)' : ''}`,
      [
        h.Alive ? 'alive' : 'gone',
        `${h.ChangeLeases} change lease(s)`,
        // Past a second off the database's clock, a host's cron Schedules fire early or late.
        Math.abs(h.ClockOffsetMs ?? 0) > 1000 ? `clock ${Math.round(-h.ClockOffsetMs / 1000)} s off the database's` : '',
        h.Runs?.length ? `running ${h.Runs.join(', ')}` : '',
        h.Alive ? doing(h.Activity) : '',
      ]
        .filter(Boolean)
        .join(' · '),
    ]),
  ];
}

function renderHost(info) {
  const orthanc = info.Orthanc ?? {};
  const feed = info.ChangeFeed ?? {};
  facts($('host-facts'), [
    ['Host', info.Version],
    [
      'Orthanc',
      orthanc.Answers ? `${orthanc.Version} (API ${orthanc.ApiVersion})` : `unreachable${orthanc.Error ? `: ${orthanc.Error}` : ''}`,
    ],
    ['Orthanc URL', `${orthanc.Url ?? ''}${orthanc.Embedded ? ' (embedded)' : ''}`],
    ['Change feed cursor', feed.Cursor],
    ['Change feed backlog', feed.Backlog],
    ...clusterFacts(info.Cluster),
  ]);
  $('recipes').tBodies[0].replaceChildren(
    ...(info.Recipes ?? []).map((recipe) => {
      // A waiting recipe is set up again by the host until Orthanc lets it: say so, and when.
      const status =
        recipe.Status === 'waiting'
          ? element('span', `waiting for Orthanc (attempt ${recipe.Attempts ?? '?'}, next ${when(recipe.NextAttempt)})`, {
              class: 'state-waiting',
            })
          : element('span', recipe.Status, { class: `state-${recipe.Status}` });
      return row([
        recipe.Title ? `${recipe.Title} (${recipe.Id})` : recipe.Id,
        status,
        duration(recipe.SetupMilliseconds),
        element('span', recipe.Error ?? '', { class: 'error' }),
      ]);
    }),
  );
}

/** What Orthanc says of a routed resource (description and date), read once per resource and kept. */
const resourceDetails = new Map();
const detailRoutes = { Study: ['studies', 'StudyDescription', 'StudyDate'], Series: ['series', 'SeriesDescription', 'SeriesDate'] };

/** The resource's ID, and below it its description and date once Orthanc has told them. */
function resourceCell(id, level) {
  const cell = element('div');
  const details = element('div', resourceDetails.get(id) ?? '', { class: 'resource-details' });
  cell.append(element('div', id, { class: 'resource-id' }), details);
  const route = detailRoutes[level];
  if (route && !resourceDetails.has(id)) {
    resourceDetails.set(id, '');
    call(`/${route[0]}/${encodeURIComponent(id)}`)
      .then(({ status, body }) => {
        if (status !== 200 || !body?.MainDicomTags) return resourceDetails.delete(id);
        const tags = body.MainDicomTags;
        const date = typeof tags[route[2]] === 'string' ? tags[route[2]].replace(/^(\d{4})(\d{2})(\d{2})$/, '$1-$2-$3') : '';
        const text = [tags[route[1]], date].filter(Boolean).join(' · ');
        resourceDetails.set(id, text);
        details.textContent = text;
      })
      .catch(() => resourceDetails.delete(id));
  }
  return cell;
}

async function renderAutorouting() {
  const { status, body } = await call('/recipes/autorouting/status');
  if (status !== 200 || !body) return;
  const mode = [body.DryRun && 'dry run', body.DeleteAfterRouting && 'deletes after routing'].filter(Boolean).join(', ');
  facts($('routing-counts'), [...Object.entries(body.Routes ?? {}), ...(mode ? [['Mode', mode]] : [])]);
  const chart = $('routing-chart');
  const perMinute = Array.isArray(body.RoutedPerMinute) ? body.RoutedPerMinute : [];
  const peak = Math.max(1, ...perMinute);
  const width = 240 / Math.max(1, perMinute.length);
  chart.replaceChildren(
    ...perMinute.map((count, index) => {
      const bar = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      const height = (count / peak) * 58;
      bar.setAttribute('x', String(index * width));
      bar.setAttribute('y', String(60 - height));
      bar.setAttribute('width', String(Math.max(0.5, width - 0.5)));
      bar.setAttribute('height', String(height));
      const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
      title.textContent = `${count} routed ${perMinute.length - index} min ago`;
      bar.append(title);
      return bar;
    }),
  );
  const inFlight = body.InFlight ?? [];
  $('routing-in-flight').replaceChildren(
    ...(inFlight.length === 0 ? [element('li', 'None', { class: 'empty' })] : []),
    ...inFlight.map((item) => {
      const entry = element('li');
      entry.append(
        resourceCell(item.Resource, item.Level),
        element('div', `${item.Level ?? ''} → ${item.Destination}${item.JobId ? ` (job ${item.JobId})` : ''}`.trim()),
      );
      return entry;
    }),
  );
  const retryButton = (route, label) => {
    const id = route.Resource;
    const button = element('button', label, { type: 'button', 'aria-label': `${label} ${id} to ${route.Destination}` });
    button.addEventListener('click', () => act(`/recipes/autorouting/retry?id=${encodeURIComponent(id)}`, button));
    return button;
  };
  // Routes whose attempts are exhausted wait for someone; those being retried go on by themselves.
  // Cancelled routes (their destination is no longer configured: the reason is their error) are
  // sent again by themselves when the destination is back: no button.
  $('routing-failures').tBodies[0].replaceChildren(
    ...(body.Failures ?? []).map((route) =>
      row([
        resourceCell(route.Resource, route.Level),
        route.Destination,
        route.Attempts,
        element('span', route.LastError ?? '', { class: 'error' }),
        retryButton(route, 'Retry'),
      ]),
    ),
    ...(body.Cancelled ?? []).map((route) =>
      row([
        resourceCell(route.Resource, route.Level),
        route.Destination,
        'cancelled',
        element('span', route.LastError ?? '', { class: 'error' }),
        '',
      ]),
    ),
  );
  $('routing-retrying').tBodies[0].replaceChildren(
    ...(body.Retrying ?? []).map((route) =>
      row([
        resourceCell(route.Resource, route.Level),
        route.Destination,
        route.Attempts,
        when(route.NextAttempt),
        element('span', route.LastError ?? '', { class: 'error' }),
        retryButton(route, 'Retry now'),
      ]),
    ),
  );
}

async function renderScheduler() {
  const { status, body } = await call('/recipes/scheduler/tasks');
  if (status !== 200 || !Array.isArray(body)) return;
  $('tasks').tBodies[0].replaceChildren(
    ...body.map((task) => {
      const run = element('button', 'Run now', { type: 'button', 'aria-label': `Run ${task.Name} now` });
      run.addEventListener('click', () => act(`/recipes/scheduler/tasks/${encodeURIComponent(task.Name)}/run`, run));
      const last = task.LastRun ?? {};
      return row([
        task.Name,
        when(task.NextRun),
        element('span', last.Outcome ?? '—', { class: last.Outcome === 'Failure' ? 'error' : '' }),
        duration(last.DurationMs),
        task.RunCount,
        task.FailureCount,
        run,
      ]);
    }),
  );
}

async function renderInstances(withThumbnails) {
  const { status, body } = await call(`/recipes/stored-instances/recent?limit=${config.RecentInstances}`);
  if (status !== 200 || !Array.isArray(body)) return;
  $('instance-list').replaceChildren(
    ...body.map((instance) => {
      const id = instance.InstanceId;
      const item = element('li');
      if (withThumbnails) {
        const image = element('img', null, {
          src: url(`/instances/${encodeURIComponent(id)}/thumbnail?size=64`).href,
          alt: `Thumbnail of instance ${id}`,
          loading: 'lazy',
        });
        image.addEventListener('error', () => image.remove()); // a report or a PDF has no picture
        item.append(image);
      }
      const text = element('div');
      const details = [
        instance.Tags?.Modality,
        instance.Origin,
        instance.RemoteAet && `from ${instance.RemoteAet}`,
        orthancTime(instance.ReceptionDate),
      ];
      text.append(element('div', id), element('div', details.filter(Boolean).join(' · ')));
      item.append(text);
      return item;
    }),
  );
}

/** Sends a button's action, then refreshes at once. */
async function act(path, button) {
  button.disabled = true;
  try {
    const { status, body } = await call(path, 'POST');
    if (status >= 400) setConnection(`${path}: ${body?.Message ?? status}`, 'bad');
  } catch {
    setConnection('The host cannot be reached', 'bad');
  } finally {
    button.disabled = false;
    await refresh();
  }
}

async function refresh() {
  clearTimeout(timer);
  try {
    const { status, body } = await call('/recipes');
    if (status === 401) {
      setConnection('Credentials required: reload the page to sign in', 'bad');
      markStale(true);
    } else if (status !== 200) {
      setConnection(`Orthanc is unreachable (${body?.Message ?? `HTTP ${status}`}); the figures below are not current`, 'bad');
      markStale(true);
    } else {
      renderHost(body);
      const reachable = body.Orthanc?.Answers && body.ChangeFeed?.OrthancReachable !== false;
      const running = new Set((body.Recipes ?? []).filter((r) => r.Status === 'running').map((r) => r.Id));
      $('autorouting').hidden = !running.has('autorouting');
      $('scheduler').hidden = !running.has('scheduler');
      $('instances').hidden = !running.has('stored-instances');
      await Promise.allSettled([
        running.has('autorouting') && renderAutorouting(),
        running.has('scheduler') && renderScheduler(),
        running.has('stored-instances') && renderInstances(running.has('thumbnails')),
      ]);
      const waiting = (body.Recipes ?? []).filter((r) => r.Status === 'waiting').map((r) => r.Id);
      if (reachable && waiting.length > 0) {
        setConnection(
          `Connected · waiting for Orthanc: ${waiting.join(', ')} (not running yet) · updated ${new Date().toLocaleTimeString()}`,
          'warn',
        );
        markStale(false);
      } else if (reachable) {
        setConnection(`Connected · updated ${new Date().toLocaleTimeString()}`, 'ok');
        markStale(false);
      } else {
        // The page itself came through Orthanc's check of the user's credentials: when the host
        // still cannot use Orthanc, Orthanc may be refusing the host's own (a rotated password).
        const why = body.Orthanc?.Error ? ` (${body.Orthanc.Error})` : '';
        const recipes = waiting.length > 0 ? `; waiting for Orthanc: ${waiting.join(', ')}` : '';
        setConnection(`Orthanc is unreachable for the host${why}${recipes}; the figures below are not current`, 'bad');
        markStale(true);
      }
    }
  } catch {
    setConnection('The host cannot be reached; the figures below are not current', 'bad');
    markStale(true);
  }
  timer = setTimeout(refresh, config.RefreshSeconds * 1000);
}

$('retry-all').addEventListener('click', (event) => act('/recipes/autorouting/retry', event.currentTarget));
try {
  const { status, body } = await call('/recipes/ui/config.json');
  if (status === 200 && body) config = { ...config, ...body };
} catch {
  // keep the defaults; refresh() reports the host as unreachable
}
await refresh();
