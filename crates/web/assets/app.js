// What every page runs: the mlflow client prints links such as http://host/#/experiments/1/runs/abc —
// the fragment never reaches the server, so it is turned into the page's real path here.
const hash = window.location.hash;
if (hash.startsWith("#/")) {
  const path = hash.slice(1).split("?")[0];
  const known = /^\/(experiments(\/\d+(\/runs\/[0-9a-f]+)?)?|runs\/[0-9a-f]+|models(\/.+)?|compare-runs)$/;
  if (known.test(path)) {
    window.location.replace(path.replace(/^\/compare-runs$/, "/compare"));
  }
}
