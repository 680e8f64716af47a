/**
 * The step timeline: one floating horizontal bar per step, [start, end] in seconds since the first step
 * started (a linear axis needs no date adapter). A running step ends "now", so its bar grows with each poll.
 */
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';
import type { PlatformStatus } from '../../src/client/api.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

type Step = PlatformStatus['steps'][number];

const COLORS: Record<string, string> = {
  succeeded: '#2e7d32',
  pending: '#9e9e9e',
  running: '#1565c0',
  failed: '#c62828',
};

/**
 * "Now" for a running step's bar: the browser's clock, but never before the latest time the API reported.
 * The sandbox runs a scaled clock (simulated minutes per real second) that is ahead of the browser's.
 */
export function timelineNow(status: PlatformStatus): number {
  const reported = [
    status.updatedAt,
    status.orchestration?.lastUpdatedTime,
    status.power?.observedAt,
    ...status.steps.flatMap((s) => [s.startedAt, s.endedAt]),
  ]
    .filter((t): t is string => typeof t === 'string')
    .map((t) => Date.parse(t))
    .filter(Number.isFinite);
  return Math.max(Date.now(), ...reported);
}

/** The bars: steps that have started, in order, each as [start, end] seconds from the first start. */
export function timelineBars(steps: readonly Step[], now: number) {
  const started = steps.filter((s) => s.startedAt);
  const origin = Math.min(...started.map((s) => Date.parse(s.startedAt!)));
  return started.map((s) => {
    const start = (Date.parse(s.startedAt!) - origin) / 1000;
    const end = ((s.endedAt ? Date.parse(s.endedAt) : now) - origin) / 1000;
    return { name: s.name, state: s.state, range: [start, Math.max(end, start)] as [number, number] };
  });
}

export function Timeline({ steps, now }: { steps: readonly Step[]; now: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<'bar', [number, number][], string> | null>(null);
  const bars = timelineBars(steps, now);

  useEffect(() => {
    if (!canvas.current) return;
    const data = {
      labels: bars.map((b) => b.name),
      datasets: [
        {
          label: 'seconds',
          data: bars.map((b) => b.range),
          backgroundColor: bars.map((b) => COLORS[b.state] ?? '#757575'),
          // A step that took no measurable time still shows as a sliver.
          minBarLength: 2,
        },
      ],
    };
    if (!chart.current) {
      chart.current = new Chart(canvas.current, {
        type: 'bar',
        data,
        options: {
          indexAxis: 'y',
          animation: false,
          maintainAspectRatio: false,
          scales: {
            x: {
              type: 'linear',
              beginAtZero: true,
              title: { display: true, text: 'seconds since the first step' },
            },
          },
        },
      });
    } else {
      chart.current.data = data;
      chart.current.update();
    }
  });
  useEffect(
    () => () => {
      chart.current?.destroy();
      chart.current = null;
    },
    [],
  );

  return (
    <div class="timeline" style={{ height: `${Math.max(120, bars.length * 26 + 60)}px` }}>
      <canvas
        ref={canvas}
        data-bars={bars.length}
        role="img"
        aria-label={bars.map((b) => `${b.name} ${b.state}`).join(', ') || 'no steps yet'}
      />
    </div>
  );
}
