// The last page of a sign-in started from Teams. Opened in Teams' sign-in pop-up (the card's
// "Sign in here" button), it hands the code to Teams with authentication.notifySuccess; Teams
// closes the pop-up and sends the code to the bot as signin/verifyState. In a plain browser
// (no Teams host answers) nothing happens: the code stays on the page, to be typed back.
// No inline script (CSP): the code comes from a data attribute.
(function () {
  "use strict";
  var el = document.getElementById("teams-signin");
  if (!el || !window.microsoftTeams) {
    return;
  }
  var code = el.getAttribute("data-code");
  if (!code) {
    return;
  }
  microsoftTeams.app
    .initialize()
    .then(function () {
      microsoftTeams.authentication.notifySuccess(code);
    })
    .catch(function () {
      // not inside Teams: the page already says what to do
    });
})();
