// Start GOV.UK Frontend's components (a file, not inline, so the CSP needs no exception).
import { initAll } from './govuk/govuk-frontend.min.js'
initAll()
