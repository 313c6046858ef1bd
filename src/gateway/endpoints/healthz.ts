/** Liveness and readiness: 200 when the store answers, 503 otherwise. */
import type { GatewayContext } from '../context.js';

export async function handleHealthz(_request: Request, ctx: GatewayContext): Promise<Response> {
  try {
    await ctx.store.get('gateway:health', 'probe');
    return Response.json({ status: 'ok' }, { headers: { 'Cache-Control': 'no-store' } });
  } catch (err) {
    ctx.logger.error({ err }, 'health check failed');
    return Response.json(
      { status: 'unavailable' },
      { status: 503, headers: { 'Cache-Control': 'no-store' } },
    );
  }
}
