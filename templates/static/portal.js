// The JSM portal tab: signs the Teams user in with Teams tab SSO. The token from
// microsoftTeams.authentication.getAuthToken() goes to the appliance, which checks it and sets a
// short session cookie; then the page reloads and shows the portal. No inline script (CSP).
(function () {
  "use strict";
  var root = document.getElementById("portal-signin");
  if (!root) {
    return;
  }
  var status = document.getElementById("portal-status");
  function say(text) {
    status.textContent = text;
    status.className = "error";
  }
  if (!window.microsoftTeams) {
    say("Open this page as a tab in Microsoft Teams.");
    return;
  }
  microsoftTeams.app
    .initialize()
    .then(function () {
      return microsoftTeams.authentication.getAuthToken();
    })
    .then(function (token) {
      return fetch(root.getAttribute("data-session"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: token })
      });
    })
    .then(function (res) {
      if (res.status === 204) {
        window.location.reload();
        return null;
      }
      return res.json().then(function (problem) {
        say(problem.detail || "The sign-in was refused.");
      });
    })
    .catch(function (e) {
      say("Microsoft Teams could not sign you in: " + e);
    });
})();
