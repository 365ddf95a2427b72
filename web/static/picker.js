// The scenario picker: the catalog grouped by category, each entry with
// its puzzle statement, so that a learner can choose by the question rather
// than by an id.

// picker renders the catalog into el and calls onPick(id) when the user
// chooses a scenario. It returns {select(id)} to mark the current one.
export function picker(el, catalog, onPick) {
  // buttons maps a scenario id to its button, to move aria-current.
  const buttons = new Map();

  render();

  return {select};

  function render() {
    el.textContent = '';
    const groups = new Map();
    for (const s of catalog) {
      if (!groups.has(s.category)) groups.set(s.category, []);
      groups.get(s.category).push(s);
    }
    for (const [category, list] of groups) {
      const h = document.createElement('h2');
      h.textContent = category;
      h.id = `cat-${slug(category)}`;
      const ul = document.createElement('ul');
      ul.setAttribute('aria-labelledby', h.id);
      ul.dataset.category = category;
      for (const s of list) {
        const li = document.createElement('li');
        const b = document.createElement('button');
        b.type = 'button';
        b.dataset.id = s.id;
        b.title = s.id;
        const title = document.createElement('span');
        title.className = 'title';
        title.textContent = s.title;
        const st = document.createElement('span');
        st.className = 'statement';
        st.textContent = s.statement;
        b.append(title, st);
        if (s.race) {
          const tags = document.createElement('span');
          tags.className = 'tags';
          const t = document.createElement('span');
          t.className = 'tag';
          t.textContent = '-race';
          tags.append(t);
          b.append(tags);
        }
        b.addEventListener('click', () => onPick(s.id));
        li.append(b);
        ul.append(li);
        buttons.set(s.id, b);
      }
      el.append(h, ul);
    }
  }

  // select marks the scenario id as the current one.
  function select(id) {
    for (const [bid, b] of buttons) {
      b.setAttribute('aria-current', bid === id ? 'true' : 'false');
    }
    const b = buttons.get(id);
    if (b) b.scrollIntoView({block: 'nearest'});
  }
}

function slug(s) {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}
