# Isobar storage node: Node.js 20, the bundled engine, a data volume.
# Built by `wrangler deploy --env production` for Cloudflare Containers
# (image_build_context is the repository root), or by hand:
#   docker build -f infra/storage-node.Dockerfile -t isobar-storage-node .
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Skip the tool Node.js for wrangler (postinstall); the build needs only esbuild.
ENV ISOBAR_SKIP_TOOL_NODE=1
RUN npm install --no-audit --no-fund --ignore-scripts
COPY wire ./wire
COPY storage-node ./storage-node
COPY scripts/build.mjs ./scripts/build.mjs
RUN node scripts/build.mjs

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production ISOBAR_SKIP_TOOL_NODE=1
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist/storage-node ./dist/storage-node
ENV ISOBAR_ENV=production \
    ISOBAR_DATA_DIR=/data \
    ISOBAR_NODE_HOST=0.0.0.0 \
    ISOBAR_NODE_PORT=8790
VOLUME ["/data"]
EXPOSE 8790
USER node
CMD ["node", "--enable-source-maps", "dist/storage-node/main.mjs"]
