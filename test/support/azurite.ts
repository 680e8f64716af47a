export { startAzurite, type RunningAzurite } from '../../sandbox/azurite.js';
